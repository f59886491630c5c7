#!/bin/bash
# Keys step: the update signing key pair (Ed25519). The private key stays on
# the host side of the build; only the public key goes into the root trees.
# A second, rogue key signs the "wrongly signed" test payload.
. "$(dirname "$0")/lib.sh"

step "keys: Ed25519 update signing key"
umask 077
for name in update rogue; do
	openssl genpkey -algorithm ed25519 -out "$OUT/$name.key"
	openssl pkey -in "$OUT/$name.key" -pubout -out "$OUT/$name.pub"
done
