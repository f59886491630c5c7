#!/bin/bash
# Keys step: the update signing key pair (Ed25519) and an X.509 CA with a
# signer (below). The private keys stay on the host side of the build; only
# the public key and the CA certificate go into the root trees. A rogue key
# (and a rogue CA) signs the "wrongly signed" test payloads.
. "$(dirname "$0")/lib.sh"

step "keys: Ed25519 update signing key"
umask 077
for name in update rogue; do
	openssl genpkey -algorithm ed25519 -out "$OUT/$name.key"
	openssl pkey -in "$OUT/$name.key" -pubout -out "$OUT/$name.pub"
done

# X.509, for updaters that verify CMS signatures (RAUC's bundles): a CA whose
# certificate goes into the root trees as the keyring, a signing certificate
# it issued, and a rogue CA with a signer of its own for the refusal tests.
step "keys: X.509 update CA and signer, rogue CA and signer"
cat > "$OUT/x509.cnf" <<'CNF'
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
[ ca ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ signer ]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
CNF
# x509_pair NAME — NAME-ca.pem (self-signed) and NAME-signer.{pem,key} it issued.
x509_pair() {
	local name=$1 dir=$OUT
	openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 36500 -subj "/O=brownout/CN=$name CA" \
		-config "$dir/x509.cnf" -extensions ca -keyout "$dir/$name-ca.key" -out "$dir/$name-ca.pem" 2>/dev/null
	openssl req -new -newkey rsa:2048 -nodes -sha256 -subj "/O=brownout/CN=$name signer" \
		-config "$dir/x509.cnf" -keyout "$dir/$name-signer.key" -out "$dir/$name-signer.csr" 2>/dev/null
	openssl x509 -req -in "$dir/$name-signer.csr" -CA "$dir/$name-ca.pem" -CAkey "$dir/$name-ca.key" \
		-CAcreateserial -sha256 -days 36500 -extfile "$dir/x509.cnf" -extensions signer \
		-out "$dir/$name-signer.pem" 2>/dev/null
	rm -f "$dir/$name-signer.csr" "$dir/$name-ca.srl"
}
x509_pair update
x509_pair rogue
