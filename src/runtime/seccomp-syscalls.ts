// Syscall tables behind the default seccomp profile (see seccomp.ts).
// Which calls are allowed, and under which capability, follows Docker's default
// profile (moby, 2025: io_uring refused, lsm_* behind CAP_SYS_ADMIN). x86 only:
// 32-bit names (chown32, _llseek, ...) matter for the x86 sub-architecture, and
// names this libseccomp does not know are skipped by runc.

/** Harmless for everyone: a process acting on itself, its files and its sockets. */
export const ALWAYS_ALLOWED: Readonly<Record<string, readonly string[]>> = {
  process: [
    'execve', 'execveat', 'exit', 'exit_group', 'fork', 'vfork',
    'wait4', 'waitid', 'waitpid', 'kill', 'tkill', 'tgkill',
    'getpid', 'getppid', 'gettid', 'getpgid', 'getpgrp', 'getsid', 'setpgid', 'setsid',
    'set_tid_address', 'restart_syscall', 'rseq', 'uretprobe', 'prctl',
    'arch_prctl', 'modify_ldt', 'set_thread_area', 'get_thread_area',
    'pidfd_open', 'pidfd_send_signal', 'process_mrelease',
    // ptrace and friends: allowed on kernels >= 4.8, where seccomp can no longer
    // be bypassed through ptrace (Docker's rule; CAP_SYS_PTRACE still governs
    // tracing other users' processes in the kernel itself).
    'ptrace', 'process_vm_readv', 'process_vm_writev',
  ],
  credentials: [
    'getuid', 'getuid32', 'geteuid', 'geteuid32', 'getgid', 'getgid32', 'getegid', 'getegid32',
    'getresuid', 'getresuid32', 'getresgid', 'getresgid32', 'getgroups', 'getgroups32',
    'setuid', 'setuid32', 'setgid', 'setgid32', 'setreuid', 'setreuid32', 'setregid', 'setregid32',
    'setresuid', 'setresuid32', 'setresgid', 'setresgid32', 'setgroups', 'setgroups32',
    'setfsuid', 'setfsuid32', 'setfsgid', 'setfsgid32', 'capget', 'capset',
  ],
  sandboxing: ['seccomp', 'landlock_create_ruleset', 'landlock_add_rule', 'landlock_restrict_self'],
  limits: [
    'getrlimit', 'ugetrlimit', 'setrlimit', 'prlimit64', 'getrusage', 'times',
    'getpriority', 'setpriority', 'ioprio_get', 'ioprio_set',
  ],
  scheduling: [
    'sched_yield', 'sched_getaffinity', 'sched_setaffinity', 'sched_getattr', 'sched_setattr',
    'sched_getparam', 'sched_setparam', 'sched_getscheduler', 'sched_setscheduler',
    'sched_get_priority_max', 'sched_get_priority_min',
    'sched_rr_get_interval', 'sched_rr_get_interval_time64', 'getcpu',
  ],
  signals: [
    'rt_sigaction', 'rt_sigpending', 'rt_sigprocmask', 'rt_sigqueueinfo', 'rt_sigreturn',
    'rt_sigsuspend', 'rt_sigtimedwait', 'rt_sigtimedwait_time64', 'rt_tgsigqueueinfo',
    'sigaltstack', 'sigprocmask', 'sigreturn', 'signalfd', 'signalfd4', 'alarm', 'pause',
  ],
  time: [
    'time', 'gettimeofday', 'clock_gettime', 'clock_gettime64', 'clock_getres', 'clock_getres_time64',
    'clock_nanosleep', 'clock_nanosleep_time64', 'nanosleep',
    // read-only unless modes ask to set the clock, which needs CAP_SYS_TIME anyway
    'adjtimex', 'clock_adjtime', 'clock_adjtime64',
    'getitimer', 'setitimer', 'timer_create', 'timer_delete', 'timer_getoverrun',
    'timer_gettime', 'timer_gettime64', 'timer_settime', 'timer_settime64',
    'timerfd_create', 'timerfd_gettime', 'timerfd_gettime64', 'timerfd_settime', 'timerfd_settime64',
  ],
  memory: [
    'brk', 'mmap', 'mmap2', 'munmap', 'mremap', 'mprotect', 'madvise', 'mincore', 'msync',
    'mlock', 'mlock2', 'mlockall', 'munlock', 'munlockall', 'remap_file_pages',
    'memfd_create', 'memfd_secret', 'membarrier', 'pkey_alloc', 'pkey_free', 'pkey_mprotect',
    'map_shadow_stack', 'mseal', 'cachestat',
  ],
  synchronisation: [
    'futex', 'futex_time64', 'futex_waitv', 'futex_wait', 'futex_wake', 'futex_requeue',
    'get_robust_list', 'set_robust_list', 'eventfd', 'eventfd2',
  ],
  sysvAndPosixIpc: [
    'ipc', 'msgget', 'msgsnd', 'msgrcv', 'msgctl', 'semget', 'semop', 'semtimedop',
    'semtimedop_time64', 'semctl', 'shmget', 'shmat', 'shmdt', 'shmctl',
    'mq_open', 'mq_unlink', 'mq_notify', 'mq_getsetattr', 'mq_timedsend', 'mq_timedsend_time64',
    'mq_timedreceive', 'mq_timedreceive_time64',
  ],
  fileIo: [
    'open', 'openat', 'openat2', 'creat', 'close', 'close_range', 'name_to_handle_at',
    'read', 'readv', 'pread64', 'preadv', 'preadv2', 'write', 'writev', 'pwrite64', 'pwritev', 'pwritev2',
    'lseek', '_llseek', 'dup', 'dup2', 'dup3', 'fcntl', 'fcntl64', 'ioctl', 'flock',
    'fsync', 'fdatasync', 'sync', 'syncfs', 'sync_file_range', 'fallocate',
    'truncate', 'truncate64', 'ftruncate', 'ftruncate64', 'fadvise64', 'fadvise64_64', 'readahead',
    'sendfile', 'sendfile64', 'splice', 'tee', 'vmsplice', 'copy_file_range', 'pipe', 'pipe2',
  ],
  asyncIo: [
    'io_setup', 'io_destroy', 'io_submit', 'io_cancel', 'io_getevents',
    'io_pgetevents', 'io_pgetevents_time64',
  ],
  fileMetadata: [
    'stat', 'stat64', 'lstat', 'lstat64', 'fstat', 'fstat64', 'fstatat64', 'newfstatat', 'statx',
    'statfs', 'statfs64', 'fstatfs', 'fstatfs64', 'access', 'faccessat', 'faccessat2',
    'chmod', 'fchmod', 'fchmodat', 'fchmodat2', 'chown', 'chown32', 'fchown', 'fchown32',
    'fchownat', 'lchown', 'lchown32', 'umask', 'utime', 'utimes', 'utimensat', 'utimensat_time64',
    'futimesat', 'listmount', 'statmount',
  ],
  directories: [
    'getcwd', 'chdir', 'fchdir', 'getdents', 'getdents64', 'mkdir', 'mkdirat', 'rmdir',
    'mknod', 'mknodat', 'rename', 'renameat', 'renameat2', 'link', 'linkat',
    'symlink', 'symlinkat', 'unlink', 'unlinkat', 'readlink', 'readlinkat',
  ],
  xattrs: [
    'getxattr', 'lgetxattr', 'fgetxattr', 'getxattrat', 'setxattr', 'lsetxattr', 'fsetxattr', 'setxattrat',
    'listxattr', 'llistxattr', 'flistxattr', 'listxattrat',
    'removexattr', 'lremovexattr', 'fremovexattr', 'removexattrat',
  ],
  polling: [
    'poll', 'ppoll', 'ppoll_time64', 'select', '_newselect', 'pselect6', 'pselect6_time64',
    'epoll_create', 'epoll_create1', 'epoll_ctl', 'epoll_ctl_old', 'epoll_wait', 'epoll_wait_old',
    'epoll_pwait', 'epoll_pwait2', 'inotify_init', 'inotify_init1', 'inotify_add_watch',
    'inotify_rm_watch', 'fanotify_mark',
  ],
  sockets: [
    'socketpair', 'socketcall', 'bind', 'listen', 'accept', 'accept4', 'connect', 'shutdown',
    'getsockname', 'getpeername', 'getsockopt', 'setsockopt',
    'send', 'sendto', 'sendmsg', 'sendmmsg', 'recv', 'recvfrom', 'recvmsg', 'recvmmsg', 'recvmmsg_time64',
  ],
  system: ['uname', 'sysinfo', 'getrandom'],
};

/**
 * Calls a container may make only when it holds the capability: without it the
 * kernel would refuse most of them anyway, and the rest widen the attack surface.
 */
export const CAPABILITY_GATED: readonly { readonly cap: string; readonly names: readonly string[] }[] = [
  { cap: 'CAP_SYS_ADMIN', names: [
    // mounts, old and new API
    'mount', 'umount', 'umount2', 'fsopen', 'fsconfig', 'fsmount', 'fspick',
    'move_mount', 'open_tree', 'mount_setattr', 'quotactl', 'quotactl_fd',
    // namespaces: unrestricted clone/clone3 replace the flag-checked clone rule below
    'clone', 'clone3', 'unshare', 'setns', 'sethostname', 'setdomainname',
    // tracing, kernel introspection, security modules
    'bpf', 'perf_event_open', 'fanotify_init', 'lookup_dcookie', 'syslog',
    'lsm_get_self_attr', 'lsm_set_self_attr', 'lsm_list_modules',
  ] },
  { cap: 'CAP_SYS_PTRACE', names: [
    'ptrace', 'process_vm_readv', 'process_vm_writev', 'process_madvise', 'kcmp', 'pidfd_getfd',
  ] },
  { cap: 'CAP_SYS_MODULE', names: ['init_module', 'finit_module', 'delete_module'] },
  { cap: 'CAP_SYS_BOOT', names: ['reboot'] },
  { cap: 'CAP_SYS_TIME', names: ['settimeofday', 'stime', 'clock_settime', 'clock_settime64'] },
  { cap: 'CAP_SYS_RAWIO', names: ['iopl', 'ioperm'] },
  { cap: 'CAP_SYS_NICE', names: ['mbind', 'get_mempolicy', 'set_mempolicy', 'set_mempolicy_home_node'] },
  { cap: 'CAP_SYS_PACCT', names: ['acct'] },
  { cap: 'CAP_SYS_CHROOT', names: ['chroot'] },
  { cap: 'CAP_SYS_TTY_CONFIG', names: ['vhangup'] },
  { cap: 'CAP_SYSLOG', names: ['syslog'] },
  { cap: 'CAP_BPF', names: ['bpf'] },
  { cap: 'CAP_PERFMON', names: ['perf_event_open'] },
  { cap: 'CAP_DAC_READ_SEARCH', names: ['open_by_handle_at'] },
];

/** personality(2) values that only select the Linux ABI or query; never READ_IMPLIES_EXEC etc. */
export const SAFE_PERSONALITIES: readonly number[] = [
  0x0,        // PER_LINUX
  0x0008,     // UNAME26
  0x20000,    // PER_LINUX32
  0x20008,    // PER_LINUX32 | UNAME26
  0xffffffff, // query only
];

/** CLONE_NEWNS | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWCGROUP */
export const CLONE_NAMESPACE_FLAGS = 0x7e020000;

export const AF_VSOCK = 40;
export const EPERM = 1;
export const ENOSYS = 38;
