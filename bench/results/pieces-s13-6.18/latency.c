#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdint.h>
#include <time.h>
#include <stdlib.h>
static volatile uint64_t line[16] __attribute__((aligned(64)));
static int N = 200000;
static void pin(int c){cpu_set_t s;CPU_ZERO(&s);CPU_SET(c,&s);sched_setaffinity(0,sizeof s,&s);}
static void *other(void *a){pin(1);for(int i=0;i<N;i++){while(line[0]!=2*i+1);line[0]=2*i+2;}return 0;}
static uint64_t ns(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1000000000ull+t.tv_nsec;}
int main(){pthread_t t;pin(0);pthread_create(&t,0,other,0);uint64_t a=ns();
for(int i=0;i<N;i++){line[0]=2*i+1;while(line[0]!=2*i+2);} uint64_t b=ns();pthread_join(t,0);
printf("round trip %.0f ns (one transfer ~%.0f ns)\n",(double)(b-a)/N,(double)(b-a)/N/2);
/* local L1/L2/L3/DRAM latencies via pointer chase */
for (size_t sz=16<<10; sz<=64<<20; sz*=4){size_t n=sz/64; size_t *p=aligned_alloc(64,sz); size_t *perm=malloc(n*sizeof(size_t));
for(size_t i=0;i<n;i++)perm[i]=i; for(size_t i=n-1;i>0;i--){size_t j=rand()%(i+1),x=perm[i];perm[i]=perm[j];perm[j]=x;}
for(size_t i=0;i<n;i++)p[perm[i]*8]=perm[(i+1)%n]*8;
size_t k=0; for(int i=0;i<1000000;i++)k=p[k]; uint64_t c=ns(); for(int i=0;i<2000000;i++)k=p[k]; uint64_t d=ns();
printf("chase %6zu KB: %.1f ns (%zu)\n", sz>>10,(double)(d-c)/2000000,k&1); free(p); free(perm);}
}
