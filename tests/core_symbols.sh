#!/bin/sh
# The core must stay sans-I/O: no clock, socket, event, thread, sleep or system randomness
# (libsodium's random key generators included: ephemeral keys come from the caller's seed).
# Lists the core library's undefined symbols and fails on any of those.
set -eu
lib=$1
forbidden='^(clock_gettime|clock_getres|gettimeofday|time|timespec_get|ftime|nanosleep|usleep|sleep|clock_nanosleep|socket|bind|connect|listen|accept|accept4|send|sendto|sendmsg|sendmmsg|recv|recvfrom|recvmsg|recvmmsg|read|write|select|poll|ppoll|epoll_.*|signalfd|timerfd_.*|pthread_.*|thrd_.*|mtx_.*|cnd_.*|fork|rand|rand_r|random|srand|srandom|drand48|lrand48|getrandom|getentropy|arc4random.*|open|fopen|getaddrinfo|randombytes_buf|randombytes_random|randombytes_uniform|randombytes_stir|crypto_box_keypair|crypto_kx_keypair|crypto_aead_chacha20poly1305_ietf_keygen)(@.*)?$'
undefined=$(nm -u "$lib" | awk 'NF { print $NF }' | sort -u)
count=$(printf '%s\n' "$undefined" | grep -c . || true)
bad=$(printf '%s\n' "$undefined" | grep -E "$forbidden" || true)
if [ -n "$bad" ]; then
  echo "core library calls forbidden functions:" $bad
  echo "0 passed, 1 failed"
  exit 1
fi
if [ "$count" -eq 0 ]; then
  echo "no undefined symbols read from $lib: is it the right file?"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "core library: $count undefined symbols, none forbidden"
echo "1 passed, 0 failed"
