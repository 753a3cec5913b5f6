#!/usr/bin/env bash
# Builds ggml's CUDA backend (libggml-cuda.so, with the libggml-base.so it links) from the ollama
# module version that go.mod pins, the sources mbd's cgo build compiles, for the installed CUDA
# toolkit and GPU architecture, into the folder MBD_GGML_BACKEND=cuda and --gpu read:
#   $MBD_GGML_CACHE (default ${XDG_CACHE_HOME:-~/.cache}/mbd/ggml)/VERSION/cuda/
# with ggml-source.txt, the module's go.sum line, which mbd compares with its own build info
# before it loads the library (a library from other sources is refused, never loaded).
#
# Sources, in this order: --src DIR (the module's folder, or one unpacked from --pack-src),
# --src-archive FILE (a --pack-src archive), $MBD_OLLAMA_SRC, or the Go module cache (needs go).
# A module folder must hash to go.sum's h1: line; a packed one must match its SHA256SUMS and name
# go.sum's line. Machines without Go get the sources as an archive made where Go is:
#   scripts/gpu/build-cuda.sh --pack-src out/gpu/ollama-src.tar.gz
set -euo pipefail

usage() {
	cat <<'EOF'
usage: build-cuda.sh [options]
  --src DIR            ollama module sources (default: $MBD_OLLAMA_SRC, or the Go module cache)
  --src-archive FILE   sources packed by --pack-src (unpacked beside the build folder)
  --arch LIST          CUDA architectures, e.g. 90 or "80;90" (default: $MBD_CUDA_ARCH, or the
                       compute capability nvidia-smi reports)
  --nvcc PATH          CUDA compiler (default: $CUDACXX, nvcc on PATH, /usr/local/cuda/bin/nvcc)
  --cache DIR          cache root (default: $MBD_GGML_CACHE or ${XDG_CACHE_HOME:-~/.cache}/mbd/ggml)
  --build-dir DIR      CMake build folder (default: CACHE/VERSION/build-cuda)
  --jobs N             parallel compile jobs (default: the number of CPUs)
  --dry-run            check the inputs and print the commands, build nothing
  --pack-src FILE      pack the sources the build needs (with their go.sum line and SHA256SUMS)
                       into FILE.tar.gz for a machine without Go, and stop
  -h, --help           this help
Exit status: 0 built, 1 build failed, 2 bad arguments or a missing tool or source.
EOF
}

die() { # die STATUS MESSAGE
	echo "build-cuda.sh: $2" >&2
	exit "$1"
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
module=github.com/ollama/ollama
src=${MBD_OLLAMA_SRC:-}
archive=""
arch=${MBD_CUDA_ARCH:-}
nvcc=${CUDACXX:-}
cache=${MBD_GGML_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mbd/ggml}
build=""
jobs=$(nproc 2>/dev/null || echo 4)
dry=0
pack=""

need_value() { [[ $# -ge 2 && -n $2 ]] || die 2 "$1: want a value"; }
while [[ $# -gt 0 ]]; do
	case $1 in
	--src) need_value "$@"; src=$2; shift 2 ;;
	--src-archive) need_value "$@"; archive=$2; shift 2 ;;
	--arch) need_value "$@"; arch=$2; shift 2 ;;
	--nvcc) need_value "$@"; nvcc=$2; shift 2 ;;
	--cache) need_value "$@"; cache=$2; shift 2 ;;
	--build-dir) need_value "$@"; build=$2; shift 2 ;;
	--jobs) need_value "$@"; jobs=$2; shift 2 ;;
	--pack-src) need_value "$@"; pack=$2; shift 2 ;;
	--dry-run) dry=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die 2 "unknown argument $1" ;;
	esac
done
[[ $jobs =~ ^[1-9][0-9]*$ ]] || die 2 "--jobs $jobs: want a whole number of at least 1"
[[ -z $src || -z $archive ]] || die 2 "give --src or --src-archive, not both"

# The pinned version and its go.sum line: the stamp of what mbd compiled.
[[ -f $root/go.mod && -f $root/go.sum ]] || die 2 "no go.mod and go.sum in $root (run the script from the mbd repository)"
version=$(sed -n "s|^[[:space:]]*$module \(v[^[:space:]]*\).*|\1|p" "$root/go.mod" | head -1)
[[ -n $version ]] || die 2 "go.mod does not require $module"
stamp=$(grep -E "^$module $version h1:" "$root/go.sum" | head -1 || true)
[[ -n $stamp ]] || die 2 "go.sum has no hash for $module $version"

# dirhash computes Go's h1: hash of a module folder (golang.org/x/mod/sumdb/dirhash.Hash1): the
# SHA-256 of the sorted "sha256  module@version/file" lines, base64-encoded.
dirhash() {
	(cd "$1" && find . -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 -r sha256sum) |
		sed "s|^\([0-9a-f]*\)  |\1  $module@$version/|" | sha256sum | cut -d' ' -f1 | unhex | base64
}
unhex() { local h; read -r h; printf "$(sed 's/../\\x&/g' <<<"$h")"; }

# The files the CMake build of ggml-cuda reads.
src_files=(CMakeLists.txt ml/backend/ggml/ggml)

if [[ -z $src && -z $archive ]]; then
	if command -v go >/dev/null; then
		src=$(cd "$root" && go env GOMODCACHE)/$module@$version
		[[ -d $src ]] || die 2 "$src: not in the module cache (run go mod download $module in $root)"
	else
		die 2 "no Go here to find the $module $version sources: give --src DIR or --src-archive FILE (made with --pack-src where Go is)"
	fi
fi

if [[ -n $pack ]]; then
	[[ -n $src ]] || die 2 "--pack-src packs a module folder: give --src DIR, or run where Go is"
	[[ -d $src ]] || die 2 "--src $src: no such folder"
	got="$module $version h1:$(dirhash "$src")"
	[[ $got == "$stamp" ]] || die 2 "--src $src is not $module $version: hashes to $got, go.sum says $stamp"
	[[ $dry == 0 ]] || { echo "would pack ${src_files[*]} of $src into $pack"; exit 0; }
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	mkdir -p "$tmp/ollama-src"
	(cd "$src" && cp -r --parents "${src_files[@]}" "$tmp/ollama-src/")
	chmod -R u+w "$tmp/ollama-src"
	(cd "$tmp/ollama-src" && find . -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 sha256sum >"$tmp/SHA256SUMS" && mv "$tmp/SHA256SUMS" SHA256SUMS)
	echo "$stamp" >"$tmp/ollama-src/ggml-source.txt"
	mkdir -p "$(dirname "$pack")"
	tar -C "$tmp" -czf "$pack" ollama-src
	echo "packed $module $version ggml sources into $pack"
	exit 0
fi

out=$cache/$version/cuda
[[ -n $build ]] || build=$cache/$version/build-cuda

if [[ -n $archive ]]; then
	[[ -f $archive ]] || die 2 "--src-archive $archive: no such file"
	src=$build-src/ollama-src
	unpack=$build-src
	if [[ $dry == 1 ]]; then # checked in a temporary folder
		unpack=$(mktemp -d)
		trap 'rm -rf "$unpack"' EXIT
	fi
	rm -rf "$unpack/ollama-src" && mkdir -p "$unpack" || die 2 "cannot create $unpack"
	tar -C "$unpack" -xzf "$archive" 2>/dev/null && [[ -d $unpack/ollama-src ]] || die 2 "--src-archive $archive: not a tar.gz made by --pack-src"
	checked=$unpack/ollama-src
fi

# Check the sources.
checked=${checked:-$src}
(
	src=$checked
	[[ -d $src ]] || die 2 "--src $src: no such folder"
	[[ -f $src/CMakeLists.txt && -d $src/ml/backend/ggml/ggml/src/ggml-cuda ]] || die 2 "$src: not the $module sources (no CMakeLists.txt and ml/backend/ggml/ggml/src/ggml-cuda)"
	if [[ -f $src/SHA256SUMS ]]; then
		got=$(cat "$src/ggml-source.txt" 2>/dev/null || true)
		[[ $got == "$stamp" ]] || die 2 "$src holds \"$got\", go.sum says \"$stamp\": pack the sources again with --pack-src"
		(cd "$src" && sha256sum --quiet -c SHA256SUMS >/dev/null 2>&1) || die 2 "$src: files differ from its SHA256SUMS"
	else
		got="$module $version h1:$(dirhash "$src")"
		[[ $got == "$stamp" ]] || die 2 "$src is not $module $version: hashes to $got, go.sum says $stamp"
	fi
) || exit $?

# The CUDA compiler and the architectures.
if [[ -z $nvcc ]]; then
	nvcc=$(command -v nvcc || true)
	[[ -n $nvcc || ! -x /usr/local/cuda/bin/nvcc ]] || nvcc=/usr/local/cuda/bin/nvcc
fi
[[ -n $nvcc ]] || die 2 "nvcc not found: install the CUDA toolkit, or give --nvcc PATH (or CUDACXX)"
[[ -x $nvcc ]] || die 2 "--nvcc $nvcc: not an executable"
cuda_version=$("$nvcc" --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\).*/\1/p' | head -1)
[[ -n $cuda_version ]] || die 2 "$nvcc --version names no CUDA release: not nvcc?"
if [[ -z $arch ]]; then
	command -v nvidia-smi >/dev/null || die 2 "nvidia-smi not found to tell the GPU's architecture: give --arch (e.g. 90 for H100/H200)"
	arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | tr -d ' .' | sort -u | paste -sd';' || true)
	[[ -n $arch ]] || die 2 "nvidia-smi reports no GPU: give --arch (e.g. 90 for H100/H200)"
fi
[[ $arch =~ ^(native|all|all-major|[0-9]{2,3}[af]?(-real|-virtual)?(\;[0-9]{2,3}[af]?(-real|-virtual)?)*)$ ]] ||
	die 2 "--arch $arch: want CUDA architectures such as 90 or \"80;90\" (compute capability without the dot), native, all or all-major"
command -v cmake >/dev/null || [[ $dry == 1 ]] || die 2 "cmake not found: install CMake 3.21 or newer"
generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi
toolkit_lib=$(cd "$(dirname "$nvcc")/.." && pwd)/lib64

configure=(cmake -S "$src" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release
	"-DCMAKE_CUDA_ARCHITECTURES=$arch" "-DCMAKE_CUDA_COMPILER=$nvcc"
	-DCMAKE_BUILD_WITH_INSTALL_RPATH=ON "-DCMAKE_INSTALL_RPATH=\$ORIGIN;$toolkit_lib"
	-DCMAKE_DISABLE_FIND_PACKAGE_Vulkan=ON -DCMAKE_HIP_COMPILER=NOTFOUND -DGGML_CCACHE=OFF)
compile=(cmake --build "$build" --target ggml-cuda --parallel "$jobs")

echo "ggml-cuda: $module $version, CUDA $cuda_version ($nvcc), architectures $arch, into $out"
if [[ $dry == 1 ]]; then
	printf '%q ' "${configure[@]}"; echo
	printf '%q ' "${compile[@]}"; echo
	echo "cp $build/lib/ollama/libggml-cuda.so $build/lib/ollama/libggml-base.so* $out/"
	exit 0
fi

start=$(date +%s)
"${configure[@]}" >"$build.configure.log" 2>&1 || { tail -30 "$build.configure.log" >&2; die 1 "cmake configure failed (log: $build.configure.log)"; }
"${compile[@]}" || die 1 "building ggml-cuda failed"
lib=$build/lib/ollama
[[ -f $lib/libggml-cuda.so ]] || die 1 "the build made no $lib/libggml-cuda.so"
rm -rf "$out.tmp" && mkdir -p "$out.tmp"
cp -a "$lib/libggml-cuda.so" "$lib"/libggml-base.so* "$out.tmp/"
echo "$stamp" >"$out.tmp/ggml-source.txt"
printf 'cuda %s\narchitectures %s\nnvcc %s\nbuilt %s\nseconds %s\n' "$cuda_version" "$arch" "$nvcc" \
	"$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(($(date +%s) - start))" >"$out.tmp/build-info.txt"
rm -rf "$out" && mv "$out.tmp" "$out"
echo "built $out/libggml-cuda.so ($(du -h "$out/libggml-cuda.so" | cut -f1)) in $(($(date +%s) - start)) s; use it with MBD_GGML_BACKEND=cuda or --gpu"
