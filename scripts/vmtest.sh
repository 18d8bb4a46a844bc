#!/usr/bin/env bash
# vmtest.sh - run a command under Debian's 6.1 or 6.12 kernel in qemu (software emulation),
# on the host's own root file system (shared read-only over 9p, writable tmpfs overlay in the
# guest), and hand back the command's stdout, stderr and exit status.
#
# Usage:
#   scripts/vmtest.sh fetch [--update] 6.1|6.12
#       Install the host prerequisites if missing, download the newest Debian kernel package
#       of that series (apt-get download; nothing is installed into /boot), unpack it into
#       the cache, run depmod and prepare the initramfs. Instant when already cached;
#       --update looks for a newer package in the archive.
#   scripts/vmtest.sh run 6.1|6.12 [options] -- CMD [ARGS...]
#       Fetch if needed, boot, run CMD as root in the guest (cwd = the caller's cwd,
#       stdin = /dev/null), CMD's stdout/stderr on ours, exit with CMD's status.
#         -t SECS   limit for boot + command (default 600, env BPFSCOPE_VM_TIMEOUT)
#         -w DIR    share DIR read-write at the same path (repeatable); everything else the
#                   guest writes lands in a tmpfs and is thrown away
#         -e NAME   forward environment variable NAME (repeatable); PATH, LANG, LC_ALL,
#                   TERM, RUST_BACKTRACE, RUST_LOG and BPFSCOPE_* are always forwarded
#         -m MEM    guest memory (default 2G)
#         -k ARGS   extra kernel command line arguments
#         -v        print timing and the guest console afterwards
#   scripts/vmtest.sh info 6.1|6.12     describe the cached kernel (fetching it if needed)
#
# Exit status of `run`: CMD's own status; 124 = timeout; 125 = the guest failed before CMD
# started (the console tail is printed); 123 = the guest died while CMD ran (kernel panic or
# oops; console tail printed); 2 = usage error.
#
# Cache: ${BPFSCOPE_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bpfscope-vm}/<series>/
# Pin a package: BPFSCOPE_VM_PACKAGE_6_1=linux-image-6.1.0-56-amd64 (or _6_12).
# Software emulation only (TCG): /dev/kvm on our hosts is PVM and cannot run stock kernels.
set -euo pipefail
shopt -s nullglob

PATH=$PATH:/usr/sbin:/sbin
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly script_dir
readonly guest_init_script=$script_dir/vm/init.sh
readonly cache_root=${BPFSCOPE_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bpfscope-vm}
# Modules the guest needs before it can see the host root; their dependencies come along.
readonly guest_boot_modules=(virtio_pci virtio_console 9pnet_virtio 9p overlay)
readonly status_timeout=124 status_died_running=123 status_guest_failed=125 status_usage=2

# Where a setup problem exits: `run` promises 125 for "could not run the command".
setup_failure_status=1
# Everything to remove or stop on exit, whatever the exit path.
temporary_paths=()
background_pids=()

log() { printf 'vmtest: %s\n' "$*" >&2; }
die_setup() {
  log "error: $*"
  exit "$setup_failure_status"
}
die_usage() {
  log "$*"
  log "usage: vmtest.sh fetch [--update] 6.1|6.12 | run 6.1|6.12 [-t SECS] [-w DIR] [-e NAME] [-m MEM] [-k ARGS] [-v] -- CMD [ARGS...] | info 6.1|6.12 (see the header of $0)"
  exit "$status_usage"
}
print_help() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
}

cleanup() {
  local pid
  for pid in "${background_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${background_pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  background_pids=()
  if ((${#temporary_paths[@]})); then rm -rf -- "${temporary_paths[@]}"; fi
  temporary_paths=()
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

validate_series() {
  case ${1:-} in
    6.1 | 6.12) ;;
    '') die_usage "missing kernel series (6.1 or 6.12)" ;;
    *) die_usage "unknown kernel series '$1' (supported: 6.1, 6.12)" ;;
  esac
}

# ---------------------------------------------------------------- host prerequisites

# Prints the path of a statically linked busybox (the initramfs has no libc to offer).
find_static_busybox() {
  local candidate
  for candidate in /bin/busybox /usr/bin/busybox; do
    if [[ -x $candidate ]] && ! ldd "$candidate" >/dev/null 2>&1; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  return 1
}

# Arguments: TOOL:PACKAGE pairs. Installs the packages whose tool is missing (as root with
# apt-get), or stops with the apt-get command to run.
ensure_host_tools() {
  local pair tool package
  local -a missing_packages=()
  for pair in "$@"; do
    tool=${pair%%:*}
    package=${pair#*:}
    if [[ $tool == static-busybox ]]; then
      find_static_busybox >/dev/null && continue
    else
      command -v "$tool" >/dev/null 2>&1 && continue
    fi
    [[ " ${missing_packages[*]} " == *" $package "* ]] || missing_packages+=("$package")
  done
  ((${#missing_packages[@]} == 0)) && return 0
  if ((EUID != 0)) || ! command -v apt-get >/dev/null 2>&1; then
    die_setup "missing host packages: ${missing_packages[*]}; install them with:" \
      "apt-get install --no-install-recommends ${missing_packages[*]}"
  fi
  log "installing ${missing_packages[*]}"
  local -a install_command=(apt-get install -y -qq --no-install-recommends "${missing_packages[@]}")
  if ! DEBIAN_FRONTEND=noninteractive "${install_command[@]}" >/dev/null; then
    # The package lists may be stale or absent (fresh CI image): refresh once and retry.
    apt-get update -qq || die_setup "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive "${install_command[@]}" >/dev/null ||
      die_setup "apt-get install ${missing_packages[*]} failed"
  fi
}

# ---------------------------------------------------------------- kernel package choice

# Prints the versioned linux-image package to use for a series, or nothing.
newest_kernel_package_in_apt_cache() {
  local series=$1 name_pattern
  case $series in
    6.1) name_pattern='^linux-image-6\.1\.0-[0-9]+-amd64$' ;;
    6.12) name_pattern='^linux-image-6\.12\.[0-9]+\+deb[0-9]+-amd64$' ;;
  esac
  if [[ $series == 6.12 ]]; then
    # The meta package names the archive's current 6.12 build; prefer what it points at.
    local from_meta
    from_meta=$(apt-cache depends linux-image-6.12-amd64 2>/dev/null |
      awk '$1 == "Depends:" { print $2 }' | grep -E "$name_pattern" | head -n1 || true)
    if [[ -n $from_meta ]]; then
      printf '%s\n' "$from_meta"
      return 0
    fi
  fi
  # `search --names-only` lists only real packages (not names merely referenced by others);
  # -cloud has no 9p, -rt and -dbg are not what we test against: the pattern excludes them.
  apt-cache search --names-only "$name_pattern" 2>/dev/null | awk '{ print $1 }' |
    grep -E "$name_pattern" | sort -V | tail -n1 || true
}

choose_kernel_package() {
  local series=$1 pin_variable package
  pin_variable="BPFSCOPE_VM_PACKAGE_${series//./_}"
  if [[ -n ${!pin_variable:-} ]]; then
    printf '%s\n' "${!pin_variable}"
    return 0
  fi
  package=$(newest_kernel_package_in_apt_cache "$series")
  if [[ -z $package ]]; then
    log "no linux-image package for $series in the apt cache; running apt-get update"
    apt-get update -qq >&2 || die_setup "apt-get update failed"
    package=$(newest_kernel_package_in_apt_cache "$series")
  fi
  [[ -n $package ]] || die_setup "the Debian archive offers no linux-image package for $series" \
    "(looked for linux-image-6.1.0-N-amd64 / linux-image-6.12.N+debN-amd64)"
  printf '%s\n' "$package"
}

# ---------------------------------------------------------------- fetch

kernel_cache_dir() { printf '%s/%s\n' "$cache_root" "$1"; }

# The cache entry is complete once its `ready` file exists (written last, then renamed).
kernel_is_cached() {
  local kernel_dir=$1
  [[ -s $kernel_dir/ready && -s $kernel_dir/base.cpio ]]
}

# Reads KEY=VALUE lines of the ready file into cached_* variables.
load_cached_kernel() {
  local kernel_dir=$1 key value
  cached_package='' cached_version='' cached_release='' cached_image='' cached_module_dir=''
  while IFS='=' read -r key value; do
    case $key in
      package) cached_package=$value ;;
      version) cached_version=$value ;;
      release) cached_release=$value ;;
      image) cached_image=$kernel_dir/$value ;;
      module_dir) cached_module_dir=$kernel_dir/$value ;;
    esac
  done <"$kernel_dir/ready"
  [[ -r $cached_image ]] || die_setup "cache entry $kernel_dir is damaged (no kernel image);" \
    "remove it and fetch again"
}

# Copies one module into the initramfs directory, uncompressed (busybox insmod may lack
# the decompressor the package used).
add_module_to_initramfs() {
  local source=$1 destination=$2
  case $source in
    *.ko) cp -- "$source" "$destination" ;;
    *.ko.xz) xz -dc -- "$source" >"$destination" ;;
    *.ko.zst) zstd -qdc -- "$source" >"$destination" ;;
    *.ko.gz) gzip -dc -- "$source" >"$destination" ;;
    *) die_setup "unknown module format: $source" ;;
  esac || die_setup "cannot unpack module $source"
}

# The part of the initramfs that depends only on the kernel: static busybox and the boot
# modules in load order (NN- prefix). Written as a newc cpio archive.
build_base_initramfs() {
  local unpacked_root=$1 release=$2 output_archive=$3 work_dir=$4
  local busybox module_name line module_path load_index=10
  local -A already_added=()
  busybox=$(find_static_busybox) || die_setup "no static busybox (apt-get install busybox-static)"
  mkdir -p "$work_dir/bin" "$work_dir/modules"
  cp -- "$busybox" "$work_dir/bin/busybox"
  for module_name in "${guest_boot_modules[@]}"; do
    local dependency_listing
    if ! dependency_listing=$(modprobe --dirname="$unpacked_root" --set-version="$release" \
      --show-depends "$module_name" 2>&1); then
      log "warning: module $module_name not found in $release (the guest may fail to boot):" \
        "$dependency_listing"
      continue
    fi
    # Lines are "insmod /path/name.ko[.xz] [options]" in load order, or "builtin name".
    while read -r line; do
      [[ $line == insmod\ * ]] || continue
      module_path=${line#insmod }
      module_path=${module_path%% *}
      local base_name=${module_path##*/}
      base_name=${base_name%%.ko*}
      [[ -n ${already_added[$base_name]:-} ]] && continue
      already_added[$base_name]=1
      add_module_to_initramfs "$module_path" "$work_dir/modules/${load_index}-${base_name}.ko"
      load_index=$((load_index + 1))
    done <<<"$dependency_listing"
  done
  (cd "$work_dir" && find . | "$busybox" cpio -o -H newc 2>/dev/null) >"$output_archive" ||
    die_setup "cannot write $output_archive"
}

fetch_kernel() {
  local series=$1 want_update=$2
  local kernel_dir lock_fd
  kernel_dir=$(kernel_cache_dir "$series")
  if kernel_is_cached "$kernel_dir" && [[ $want_update != yes ]]; then return 0; fi

  mkdir -p "$cache_root" || die_setup "cannot create the cache directory $cache_root"
  # Several engineers (or parallel CI jobs) may fetch at once: one fetch per series at a time.
  exec {lock_fd}>"$cache_root/.$series.lock"
  flock "$lock_fd"
  if kernel_is_cached "$kernel_dir" && [[ $want_update != yes ]]; then
    exec {lock_fd}>&-
    return 0
  fi

  ensure_host_tools qemu-system-x86_64:qemu-system-x86 static-busybox:busybox-static \
    depmod:kmod modprobe:kmod dpkg-deb:dpkg apt-get:apt xz:xz-utils zstd:zstd flock:util-linux
  local package
  package=$(choose_kernel_package "$series")
  if kernel_is_cached "$kernel_dir"; then
    load_cached_kernel "$kernel_dir"
    if [[ $cached_package == "$package" ]]; then
      log "$series: $package is already the newest; nothing to do"
      exec {lock_fd}>&-
      return 0
    fi
  fi

  log "$series: downloading $package"
  local staging
  staging=$(mktemp -d "$cache_root/.$series.staging.XXXXXX")
  temporary_paths+=("$staging")
  # Run as root, apt would hand the download to its unprivileged _apt user, which cannot
  # write into our private staging directory; the archive signature checks still apply.
  (cd "$staging" && apt-get download -q -o APT::Sandbox::User=root "$package" >&2) ||
    die_setup "apt-get download $package failed (network? stale lists: apt-get update)"
  local -a debs=("$staging"/*.deb)
  ((${#debs[@]} == 1)) || die_setup "expected one .deb for $package, found ${#debs[@]}"
  local version
  version=$(dpkg-deb --field "${debs[0]}" Version)
  dpkg-deb -x "${debs[0]}" "$staging/root" || die_setup "dpkg-deb -x ${debs[0]} failed"
  rm -f -- "${debs[0]}"

  local -a images=("$staging"/root/boot/vmlinuz-*)
  ((${#images[@]} == 1)) || die_setup "expected one boot/vmlinuz-* in $package, found ${#images[@]}"
  local release=${images[0]##*/vmlinuz-}
  local module_dir=
  local candidate
  for candidate in lib/modules usr/lib/modules; do
    if [[ -d $staging/root/$candidate/$release/kernel ]]; then
      module_dir=$candidate/$release
      break
    fi
  done
  [[ -n $module_dir ]] || die_setup "$package has no module directory for $release"
  if [[ $module_dir == usr/* && ! -e $staging/root/lib ]]; then
    # depmod/modprobe -d look below BASE/lib/modules; newer packages ship usr/lib/modules.
    ln -s usr/lib "$staging/root/lib"
  fi
  log "$series: running depmod for $release"
  depmod --basedir="$staging/root" "$release" || die_setup "depmod failed for $release"
  build_base_initramfs "$staging/root" "$release" "$staging/base.cpio" "$staging/initramfs"
  rm -rf -- "$staging/initramfs"

  {
    printf 'package=%s\n' "$package"
    printf 'version=%s\n' "$version"
    printf 'release=%s\n' "$release"
    printf 'image=root/boot/vmlinuz-%s\n' "$release"
    printf 'module_dir=root/%s\n' "$module_dir"
  } >"$staging/ready.new"
  mv -- "$staging/ready.new" "$staging/ready"
  # Readable for the guest's 9p access and other users of the cache.
  chmod 755 "$staging"
  if [[ -e $kernel_dir ]]; then
    local previous="$kernel_dir.old.$$"
    mv -- "$kernel_dir" "$previous"
    temporary_paths+=("$previous")
  fi
  mv -- "$staging" "$kernel_dir"
  exec {lock_fd}>&-
  log "$series: cached $package ($version) in $kernel_dir"
}

# ---------------------------------------------------------------- run

# Single-quotes a value for the guest's busybox sh (printf %q may emit bash-only $'...').
quote_for_sh() {
  local value=$1
  printf "'%s'" "${value//\'/\'\\\'\'}"
}

run_in_guest() {
  local series=$1
  shift
  setup_failure_status=$status_guest_failed
  local timeout_seconds=${BPFSCOPE_VM_TIMEOUT:-600} memory=2G verbose=no extra_kernel_args=''
  local -a read_write_dirs=() forwarded_names=()
  local option
  OPTIND=1
  while getopts ':t:w:e:m:k:v' option; do
    case $option in
      t) timeout_seconds=$OPTARG ;;
      w) read_write_dirs+=("$OPTARG") ;;
      e) forwarded_names+=("$OPTARG") ;;
      m) memory=$OPTARG ;;
      k) extra_kernel_args="$extra_kernel_args $OPTARG" ;;
      v) verbose=yes ;;
      :) die_usage "option -$OPTARG needs a value" ;;
      *) die_usage "unknown option -$OPTARG" ;;
    esac
  done
  shift $((OPTIND - 1))
  [[ ${1:-} == -- ]] && shift
  (($# >= 1)) || die_usage "no command given (run $series [options] -- CMD [ARGS...])"
  if ! [[ $timeout_seconds =~ ^[1-9][0-9]*$ ]]; then
    die_usage "-t needs a positive number of seconds"
  fi

  local -a shared_paths=()
  local dir
  for dir in "${read_write_dirs[@]}"; do
    [[ -d $dir ]] || die_usage "-w $dir: not a directory"
    dir=$(realpath -- "$dir")
    [[ $dir =~ [[:space:]] ]] && die_usage "-w $dir: paths with white space are not supported"
    shared_paths+=("$dir")
  done

  local started_at=$SECONDS
  fetch_kernel "$series" no
  local kernel_dir
  kernel_dir=$(kernel_cache_dir "$series")
  load_cached_kernel "$kernel_dir"
  ensure_host_tools qemu-system-x86_64:qemu-system-x86 static-busybox:busybox-static
  [[ -r $guest_init_script ]] || die_setup "missing $guest_init_script"

  local work_dir
  work_dir=$(mktemp -d "${TMPDIR:-/tmp}/vmtest.XXXXXX")
  temporary_paths+=("$work_dir")

  # Per-run initramfs: /init and the job, appended to the cached kernel-specific archive
  # (the kernel unpacks concatenated cpio archives in order).
  local job_root=$work_dir/job-initramfs
  mkdir -p "$job_root/job"
  cp -- "$guest_init_script" "$job_root/init"
  chmod 755 "$job_root/init"
  {
    printf 'VMTEST_MODULE_DIR=%s\n' "$(quote_for_sh "$cached_module_dir")"
    printf 'VMTEST_RW_DIRS=%s\n' "$(quote_for_sh "${shared_paths[*]}")"
  } >"$job_root/job/settings"
  {
    echo '# generated by vmtest.sh; runs under bash in the guest'
    local name
    for name in PATH LANG LC_ALL TERM RUST_BACKTRACE RUST_LOG "${forwarded_names[@]}" \
      $(compgen -v BPFSCOPE_ || true); do
      [[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die_usage "-e $name: not a variable name"
      [[ -n ${!name+set} ]] && printf 'export %s=%q\n' "$name" "${!name}"
    done
    echo 'export HOME=/root USER=root LOGNAME=root'
    printf 'export BPFSCOPE_VM_SERIES=%q BPFSCOPE_VM_RELEASE=%q\n' "$series" "$cached_release"
    printf 'cd -- %q || { echo "vmtest: cannot enter %q in the guest" >&2; exit 125; }\n' \
      "$PWD" "$PWD"
    printf 'exec'
    printf ' %q' "$@"
    printf '\n'
  } >"$job_root/job/command.sh"
  local busybox
  busybox=$(find_static_busybox)
  (cd "$job_root" && find . | "$busybox" cpio -o -H newc 2>/dev/null) >"$work_dir/job.cpio" ||
    die_setup "cannot write the job initramfs"
  cat -- "$kernel_dir/base.cpio" "$work_dir/job.cpio" >"$work_dir/initramfs.cpio"

  local cpu_count
  cpu_count=$(nproc 2>/dev/null || echo 1)
  ((cpu_count > 2)) && cpu_count=2

  mkfifo "$work_dir/stdout.fifo" "$work_dir/stderr.fifo"
  : >"$work_dir/status"
  local -a qemu_arguments=(
    -nodefaults -no-user-config -machine q35 -accel "tcg,thread=multi" -cpu max
    -smp "$cpu_count" -m "$memory"
    -display none -vga none -monitor none -no-reboot -net none
    -serial "file:$work_dir/console.log"
    -kernel "$cached_image" -initrd "$work_dir/initramfs.cpio"
    # panic=-1 + oops=panic + -no-reboot: a kernel crash ends qemu at once instead of hanging
    # until the timeout. mitigations=off: TCG is slow enough without them. No secure boot,
    # so Debian's lockdown stays off.
    -append "console=ttyS0 rdinit=/init panic=-1 oops=panic nokaslr mitigations=off quiet loglevel=3$extra_kernel_args"
    -fsdev "local,id=root_fs,path=/,security_model=none,readonly=on,multidevs=remap"
    -device "virtio-9p-pci,fsdev=root_fs,mount_tag=vmtest_root"
    -device virtio-serial-pci
    -chardev "file,id=status_chr,path=$work_dir/status"
    -device "virtserialport,chardev=status_chr,name=vmtest.status"
    -chardev "file,id=stdout_chr,path=$work_dir/stdout.fifo"
    -device "virtserialport,chardev=stdout_chr,name=vmtest.stdout"
    -chardev "file,id=stderr_chr,path=$work_dir/stderr.fifo"
    -device "virtserialport,chardev=stderr_chr,name=vmtest.stderr"
  )
  local share_index=0
  for dir in "${shared_paths[@]}"; do
    qemu_arguments+=(
      -fsdev "local,id=rw_fs$share_index,path=$dir,security_model=none,multidevs=remap"
      -device "virtio-9p-pci,fsdev=rw_fs$share_index,mount_tag=vmtest_rw$share_index"
    )
    share_index=$((share_index + 1))
  done

  cat -- "$work_dir/stdout.fifo" &
  local stdout_reader=$!
  cat -- "$work_dir/stderr.fifo" >&2 &
  local stderr_reader=$!
  background_pids+=("$stdout_reader" "$stderr_reader")

  [[ $verbose == yes ]] && log "$series: booting $cached_release ($cached_package $cached_version)," \
    "$cpu_count vCPUs, $memory"
  local boot_started_at=$SECONDS
  timeout --kill-after=5 "$timeout_seconds" qemu-system-x86_64 "${qemu_arguments[@]}" \
    </dev/null >"$work_dir/qemu.log" 2>&1 &
  local qemu_pid=$!
  background_pids+=("$qemu_pid")
  local qemu_status=0
  wait "$qemu_pid" || qemu_status=$?
  background_pids=("$stdout_reader" "$stderr_reader")

  # The readers end when qemu closes the FIFOs; if qemu died before opening them they would
  # wait forever, so give them a moment and then stop them.
  local tries
  for ((tries = 0; tries < 30; tries++)); do
    kill -0 "$stdout_reader" 2>/dev/null || kill -0 "$stderr_reader" 2>/dev/null || break
    sleep 0.1
  done
  kill "$stdout_reader" "$stderr_reader" 2>/dev/null || true
  wait "$stdout_reader" "$stderr_reader" 2>/dev/null || true
  background_pids=()

  local elapsed=$((SECONDS - boot_started_at))
  if [[ $verbose == yes ]]; then
    log "$series: qemu ran ${elapsed}s (whole run incl. setup $((SECONDS - started_at))s)"
    log "---- guest console ----"
    cat -- "$work_dir/console.log" >&2 || true
    log "---- end of guest console ----"
  fi

  local command_status
  command_status=$(sed -n 's/^exit \([0-9][0-9]*\)$/\1/p' "$work_dir/status" | tail -n1)
  if [[ -n $command_status ]]; then
    exit "$command_status"
  fi
  local result
  if ((qemu_status == 124 || qemu_status == 137)); then
    log "timeout: the guest did not finish within ${timeout_seconds}s (-t to change)"
    result=$status_timeout
  elif grep -qx started "$work_dir/status"; then
    log "the guest died while the command ran (kernel panic/oops?); qemu status $qemu_status"
    result=$status_died_running
  else
    log "the guest failed before the command started; qemu status $qemu_status"
    grep '^failed' "$work_dir/status" >&2 || true
    result=$status_guest_failed
  fi
  if [[ $verbose != yes ]]; then
    # The panic reason sits above the stack dump; pick the telling lines out first.
    log "---- key guest console lines ----"
    grep -E 'Kernel panic|BUG:|Oops|general protection|vmtest-init' -- "$work_dir/console.log" |
      head -n 20 >&2 || true
    if [[ -s $work_dir/qemu.log ]]; then
      log "---- qemu messages ----"
      tail -n 20 -- "$work_dir/qemu.log" >&2
    fi
    log "---- guest console (last 40 lines) ----"
    tail -n 40 -- "$work_dir/console.log" >&2 || true
  fi
  exit "$result"
}

show_info() {
  local series=$1 kernel_dir
  fetch_kernel "$series" no
  kernel_dir=$(kernel_cache_dir "$series")
  load_cached_kernel "$kernel_dir"
  printf 'series:     %s\npackage:    %s %s\nrelease:    %s\nimage:      %s\nmodules:    %s\ncache:      %s\n' \
    "$series" "$cached_package" "$cached_version" "$cached_release" "$cached_image" \
    "$cached_module_dir" "$kernel_dir"
}

main() {
  local subcommand=${1:-}
  (($#)) && shift
  case $subcommand in
    fetch)
      local want_update=no
      if [[ ${1:-} == --update ]]; then
        want_update=yes
        shift
      fi
      validate_series "${1:-}"
      (($# == 1)) || die_usage "fetch takes one kernel series"
      fetch_kernel "$1" "$want_update"
      ;;
    run)
      validate_series "${1:-}"
      local series=$1
      shift
      run_in_guest "$series" "$@" # exits with the command's status
      ;;
    info)
      validate_series "${1:-}"
      show_info "$1"
      ;;
    help | -h | --help) print_help ;;
    '') die_usage "missing subcommand" ;;
    *) die_usage "unknown subcommand '$subcommand'" ;;
  esac
}

main "$@"
