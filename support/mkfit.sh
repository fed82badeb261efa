#!/bin/bash
# mkfit.sh: make the FIT image from a board's image description template.
#
#   mkfit.sh TEMPLATE.its OUT.its OUT.itb BZIMAGE RAMDISK HASH [KEYDIR KEYNAME]
#
# The template names its inputs @KERNEL@ (the whole bzImage) and @RAMDISK@, its hash nodes'
# algorithm @HASH@ and marks with @SIGNATURE@ where the configuration's signature node goes;
# with KEYDIR the configuration is signed (sha256,rsa2048) with KEYDIR/KEYNAME.key and .crt.
set -euo pipefail

template=$1 its=$2 itb=$3 kernel=$4 ramdisk=$5 hash=$6 keydir=${7:-} keyname=${8:-}

signature=
sign_args=()
if [ -n "$keydir" ]; then
	for ext in key crt; do
		[ -f "$keydir/$keyname.$ext" ] || {
			echo "lgbox build: FIT signing: $keydir/$keyname.$ext is missing" \
				"(make it with openssl, see doc/building.md)" >&2
			exit 1
		}
	done
	signature="signature-1 { algo = \"sha256,rsa2048\"; key-name-hint = \"$keyname\";"
	signature+=" sign-images = \"kernel\", \"ramdisk\"; };"
	sign_args=(-k "$keydir")
fi

sed -e "s|@KERNEL@|$kernel|" -e "s|@RAMDISK@|$ramdisk|" -e "s|@HASH@|$hash|g" \
	-e "s|@SIGNATURE@|$signature|" "$template" >"$its"
mkimage -q -f "$its" "${sign_args[@]}" "$itb.tmp" >/dev/null
mv "$itb.tmp" "$itb"
