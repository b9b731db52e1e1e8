#!/bin/sh
# Rebuild k.fatbin: one kernel (k.ptx) as cubins for sm_75, sm_80 and sm_90 and as PTX, by
# NVIDIA's own ptxas and fatbinary (the nvidia-cuda-nvcc wheel, 13.5.37; no GPU needed).
#   pip download --no-deps nvidia-cuda-nvcc==13.5.37 && unzip -q nvidia_cuda_nvcc-*.whl
#   sh make.sh nvidia/cu13/bin
set -e
bin=$1
tmp=$(mktemp -d)
for sm in 75 80 90; do "$bin/ptxas" -arch=sm_$sm -o "$tmp/k$sm.cubin" k.ptx; done
"$bin/fatbinary" -64 --create=k.fatbin \
    --image3=kind=elf,sm=75,file="$tmp/k75.cubin" \
    --image3=kind=elf,sm=80,file="$tmp/k80.cubin" \
    --image3=kind=elf,sm=90,file="$tmp/k90.cubin" \
    --image3=kind=ptx,sm=75,file=k.ptx
rm -r "$tmp"
