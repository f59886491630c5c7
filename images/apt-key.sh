#!/bin/bash
# Apt-key step: the OpenPGP key that signs the in-place method's package
# repository (InRelease), and a rogue one for the refusal test. Host only; the
# root trees get the public half in /etc/apt/trusted.gpg.d.
. "$(dirname "$0")/lib.sh"

for name in archive rogue; do
	step "apt-key: $name key (Ed25519)"
	home="$OUT/$name"
	mkdir -p "$home" && chmod 0700 "$home"
	gpg --batch --quiet --homedir "$home" --passphrase '' \
		--quick-gen-key "brownout $name <$name@brownout.invalid>" ed25519 sign never
	gpg --batch --quiet --homedir "$home" --export > "$OUT/$name.gpg"
	gpgconf --homedir "$home" --kill all 2>/dev/null || true
done
