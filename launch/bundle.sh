#!/usr/bin/env bash
# Builds recsys-dist as one folder that runs where there is no Swift toolchain and none of its
# Debian packages (a GPU machine, a cluster node): the binary with the Swift standard library
# linked statically, every shared library it and OpenMPI need except glibc, libstdc++ and libgcc,
# OpenMPI's launcher, daemon, plugins and help files, PMIx's plugins, the configs, and wrappers
# that point the libraries and OpenMPI at the folder, and gpu-check (the CUDA backend's check on a
# GPU machine). Writes bundle/recsys-dist/ and bundle/recsys-dist.tar.xz.
#
#   launch/bundle.sh [output folder]
#   tar xJf recsys-dist.tar.xz && recsys-dist/run train --config recsys-dist/configs/quickstart.yaml
#   recsys-dist/mpirun -np 2 recsys-dist/run train --config ...
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mkdir -p "${1:-bundle}" && cd "${1:-bundle}" && pwd)
launch/install-dependencies.sh
command -v xz >/dev/null || apt-get install -y -q xz-utils
swift build -c release --static-swift-stdlib --product recsys-dist --scratch-path .build-bundle

root="$out/recsys-dist"
rm -rf "$root" "$out/recsys-dist.tar.xz"
mkdir -p "$root/bin" "$root/lib" "$root/share"
cp .build-bundle/release/recsys-dist "$root/bin/recsys-dist"
strip "$root/bin/recsys-dist"
# Resources (the CUDA kernels' sources) are found beside the executable.
cp -a .build-bundle/release/*.resources "$root/bin/"
cp "$(readlink -f /usr/bin/orterun)" "$root/bin/orterun"
cp "$(readlink -f /usr/bin/orted)" "$root/bin/orted"
# OpenMPI finds its plugins and help files under OPAL_PREFIX in the layout it was configured with.
mpi_plugins=lib/x86_64-linux-gnu/openmpi/lib/openmpi3
mkdir -p "$root/$mpi_plugins"
cp -a "/usr/$mpi_plugins/." "$root/$mpi_plugins/"
cp -a /usr/share/openmpi "$root/share/openmpi"
# PMIx (OpenMPI's runtime interface) is told where its plugins are.
cp -a /usr/lib/x86_64-linux-gnu/pmix2 "$root/pmix2"
rm -rf "$root/pmix2/include"

# Every shared library the binaries and plugins load, but the C and C++ runtimes every Linux has.
elves=$(find "$root/bin" "$root/lib" "$root/pmix2" -type f \( -perm -u+x -o -name '*.so*' \))
for elf in $elves; do
  ldd "$elf" 2>/dev/null | awk '$3 ~ /^\// {print $3}'
done | sort -u | while read -r library; do
  case "$(basename "$library")" in
    libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|ld-linux*|libstdc++.so.*|libgcc_s.so.*) ;;
    *) cp -L "$library" "$root/lib/" ;;
  esac
done

cat > "$root/environment" <<'SH'
# Sourced by the wrappers: the bundle's libraries, OpenMPI and PMIx, wherever the folder lies.
here=$(cd "$(dirname "$0")" && pwd)
export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export OPAL_PREFIX="$here"
export PMIX_MCA_mca_base_component_path="$here/pmix2/lib/pmix"
export PATH="$here/bin:$PATH"
# OpenMPI refuses to start without a remote shell even on one node: where neither ssh nor rsh is
# installed, give it one that exists (a run on this node never calls it).
command -v ssh >/dev/null || command -v rsh >/dev/null || export OMPI_MCA_plm_rsh_agent=false
SH
cat > "$root/run" <<'SH'
#!/bin/sh
# recsys-dist from this folder: ./run train --config configs/quickstart.yaml
. "$(dirname "$0")/environment"
exec "$here/bin/recsys-dist" "$@"
SH
cat > "$root/mpirun" <<'SH'
#!/bin/sh
# OpenMPI's mpirun from this folder, passing the bundle's environment to the ranks:
#   ./mpirun -np 4 ./run train --config configs/quickstart.yaml
. "$(dirname "$0")/environment"
exec "$here/bin/orterun" -x LD_LIBRARY_PATH -x OPAL_PREFIX -x PMIX_MCA_mca_base_component_path -x PATH "$@"
SH
chmod +x "$root/run" "$root/mpirun"
cp -a configs "$root/configs"
# The CUDA backend's check on a GPU machine: recsys-dist/gpu-check (see the README's GPUs).
cp launch/gpu-check.sh "$root/gpu-check"

tar -C "$out" -cJf "$out/recsys-dist.tar.xz" recsys-dist
echo "bundle: $root ($(du -sh "$root" | cut -f1)), archive $out/recsys-dist.tar.xz ($(du -h "$out/recsys-dist.tar.xz" | cut -f1))"
