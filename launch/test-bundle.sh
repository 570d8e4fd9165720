#!/usr/bin/env bash
# Runs the bundle (launch/bundle.sh) where nothing of the build machine is: a minimal Debian made
# by debootstrap, with no Swift toolchain and none of the OpenMPI, HDF5 or OpenBLAS packages. It
# trains the quickstart from the bundle's folder on one rank and on two, evaluates the checkpoint,
# and runs gpu-check's parts that need no GPU. As root (debootstrap and chroot need it).
set -euo pipefail
cd "$(dirname "$0")/.."
clean=${CLEAN_ROOT:-$(pwd)/.build-cleanroot}
launch/bundle.sh bundle
if [ ! -x "$clean/bin/sh" ]; then
  command -v debootstrap >/dev/null || apt-get install -y -q debootstrap
  debootstrap --variant=minbase bookworm "$clean" http://deb.debian.org/debian
fi
rm -rf "$clean/opt/recsys-dist" "$clean/tmp/run"
mkdir -p "$clean/opt" "$clean/tmp/run"
tar -C "$clean/opt" -xJf bundle/recsys-dist.tar.xz
mountpoint -q "$clean/proc" || mount -t proc proc "$clean/proc"
mountpoint -q "$clean/sys" || mount -t sysfs sysfs "$clean/sys"
mountpoint -q "$clean/dev/shm" || { mkdir -p "$clean/dev/shm"; mount -t tmpfs tmpfs "$clean/dev/shm"; }
trap 'umount "$clean/dev/shm" "$clean/sys" "$clean/proc" 2>/dev/null || true' EXIT
echo "clean root: $(chroot "$clean" sh -c 'command -v swift mpirun h5dump || true; ls /usr/lib/x86_64-linux-gnu | grep -c -E "libmpi|libhdf5|libopenblas" || true') Swift / MPI / HDF5 / OpenBLAS files outside the bundle"
chroot "$clean" sh -c 'cd /tmp/run && /opt/recsys-dist/run train --config /opt/recsys-dist/configs/quickstart.yaml'
chroot "$clean" sh -c 'cd /tmp/run && /opt/recsys-dist/mpirun --allow-run-as-root -np 2 /opt/recsys-dist/run train \
    --config /opt/recsys-dist/configs/quickstart.yaml --set checkpoint.run_name=two-ranks'
chroot "$clean" sh -c 'cd /tmp/run && /opt/recsys-dist/run evaluate --checkpoint checkpoints/quickstart/latest'
# gpu-check's parts that need no GPU: the comparison of every backend operation (on the backend
# without host addresses), and, with no NVIDIA driver here, gpu-check ending with its one line.
chroot "$clean" sh -c 'cd /tmp/run && /opt/recsys-dist/run check-backend --backend separate_memory | tail -n 1'
if chroot "$clean" sh -c 'cd /tmp/run && /opt/recsys-dist/gpu-check' > "$clean/tmp/run/gpu-check.out" 2> "$clean/tmp/run/gpu-check.err"; then
  echo "gpu-check passed where there is no GPU" >&2; exit 1
fi
[ "$(wc -l < "$clean/tmp/run/gpu-check.err")" = 1 ] && grep -q '^error: no NVIDIA driver: libcuda.so.1 not found' "$clean/tmp/run/gpu-check.err" \
  || { echo "gpu-check without a GPU: expected the one-line no-driver error, got:" >&2; cat "$clean/tmp/run/gpu-check.err" >&2; exit 1; }
echo "gpu-check without a GPU: $(cat "$clean/tmp/run/gpu-check.err")"
echo "bundle test passed"
