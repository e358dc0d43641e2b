// rootfs: builds tiny image root filesystems as tar archives in memory (the pause image, busybox test images).

/** TarEntry is one file, directory or symlink of an archive; paths are relative, without a leading slash. */
export type TarEntry =
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'file'; path: string; data: Buffer; mode?: number }
  | { type: 'symlink'; path: string; target: string };

const BLOCK = 512;

/**
 * tar writes a ustar archive. Every entry is owned by root with mtime 0, so equal inputs give equal bytes
 * (and equal layer digests).
 */
export function tar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.type === 'file' ? e.data : Buffer.alloc(0);
    const name = e.type === 'dir' && !e.path.endsWith('/') ? `${e.path}/` : e.path;
    if (Buffer.byteLength(name) > 100) throw new Error(`tar: path too long: ${name}`);
    const h = Buffer.alloc(BLOCK);
    h.write(name, 0, 100, 'utf8');
    const mode = e.type === 'symlink' ? 0o777 : (e.mode ?? (e.type === 'dir' ? 0o755 : 0o644));
    octal(h, 100, 8, mode);
    octal(h, 108, 8, 0);
    octal(h, 116, 8, 0);
    octal(h, 124, 12, data.length);
    octal(h, 136, 12, 0);
    h.write(e.type === 'dir' ? '5' : e.type === 'symlink' ? '2' : '0', 156, 1, 'ascii');
    if (e.type === 'symlink') h.write(e.target, 157, 100, 'utf8');
    h.write('ustar\u000000', 257, 8, 'ascii');
    h.write('root', 265, 32, 'ascii');
    h.write('root', 297, 32, 'ascii');
    h.fill(' ', 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'ascii');
    parts.push(h, data, Buffer.alloc((BLOCK - (data.length % BLOCK)) % BLOCK));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

function octal(h: Buffer, offset: number, width: number, value: number): void {
  h.write(`${value.toString(8).padStart(width - 1, '0')}\u0000`, offset, width, 'ascii');
}

/**
 * pauseElfX64 returns a 216-byte static x86-64 Linux program that sleeps in pause(2) forever and exits 0 on
 * SIGTERM or SIGINT — what a pod sandbox needs, with no libc and no shell. It is one PT_LOAD segment at
 * 0x400000: the 64-byte ELF header, a 56-byte program header, then this code at 0x400078:
 *
 *   _start:  lea act(%rip),%rsi; xor %edx,%edx; mov $8,%r10d    # rt_sigaction(sig, &act, NULL, 8)
 *            mov $15,%edi; mov $13,%eax; syscall                # … for SIGTERM
 *            mov $2,%edi;  mov $13,%eax; syscall                # … for SIGINT
 *   loop:    mov $34,%eax; syscall; jmp loop                    # pause()
 *   handler: xor %edi,%edi; mov $231,%eax; syscall              # exit_group(0)
 *   act:     .quad handler, SA_RESTORER, handler, 0             # struct kernel_sigaction
 */
export function pauseElfX64(): Buffer {
  const base = 0x400000;
  const codeOffset = 0x78;
  const code = Buffer.from(
    '488d3539000000' + '31d2' + '41ba08000000' + 'bf0f000000' + 'b80d000000' + '0f05' +
      'bf02000000' + 'b80d000000' + '0f05' +
      'b822000000' + '0f05' + 'ebf7' +
      '31ff' + 'b8e7000000' + '0f05' + '0f1f8000000000',
    'hex',
  );
  const handler = BigInt(base + codeOffset + 0x30);
  const act = Buffer.alloc(32);
  act.writeBigUInt64LE(handler, 0);
  act.writeBigUInt64LE(0x04000000n, 8); // SA_RESTORER (required on x86-64; never used, the handler exits)
  act.writeBigUInt64LE(handler, 16);
  const total = codeOffset + code.length + act.length;

  const eh = Buffer.alloc(64);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]).copy(eh, 0); // ELF, 64-bit, little-endian, SysV
  eh.writeUInt16LE(2, 16); // ET_EXEC
  eh.writeUInt16LE(0x3e, 18); // EM_X86_64
  eh.writeUInt32LE(1, 20); // EV_CURRENT
  eh.writeBigUInt64LE(BigInt(base + codeOffset), 24); // e_entry
  eh.writeBigUInt64LE(64n, 32); // e_phoff
  eh.writeUInt16LE(64, 52); // e_ehsize
  eh.writeUInt16LE(56, 54); // e_phentsize
  eh.writeUInt16LE(1, 56); // e_phnum

  const ph = Buffer.alloc(56);
  ph.writeUInt32LE(1, 0); // PT_LOAD
  ph.writeUInt32LE(5, 4); // PF_R | PF_X
  ph.writeBigUInt64LE(0n, 8); // p_offset
  ph.writeBigUInt64LE(BigInt(base), 16); // p_vaddr
  ph.writeBigUInt64LE(BigInt(base), 24); // p_paddr
  ph.writeBigUInt64LE(BigInt(total), 32); // p_filesz
  ph.writeBigUInt64LE(BigInt(total), 40); // p_memsz
  ph.writeBigUInt64LE(0x1000n, 48); // p_align
  return Buffer.concat([eh, ph, code, act]);
}

/** BASE_DIRS are the directories every image gets (Docker mounts /proc, /sys, /dev and /etc files over them). */
const BASE_DIRS: TarEntry[] = [
  { type: 'dir', path: 'dev' },
  { type: 'dir', path: 'etc' },
  { type: 'dir', path: 'proc' },
  { type: 'dir', path: 'sys' },
  { type: 'dir', path: 'tmp', mode: 0o1777 },
];

/** pauseRootfs is the root filesystem of the embedded-binary pause image: just /pause. */
export function pauseRootfs(): Buffer {
  return tar([...BASE_DIRS, { type: 'file', path: 'pause', data: pauseElfX64(), mode: 0o755 }]);
}

/** BUSYBOX_APPLETS are the commands linked to /bin/busybox in busybox-based images. */
export const BUSYBOX_APPLETS = [
  'sh', 'ash', 'cat', 'chmod', 'cp', 'date', 'dd', 'df', 'echo', 'env', 'false', 'grep', 'head', 'hostname',
  'httpd', 'id', 'ip', 'kill', 'ln', 'ls', 'mkdir', 'mv', 'nc', 'netstat', 'nslookup', 'ping', 'printf', 'ps',
  'pwd', 'rm', 'sed', 'seq', 'sleep', 'sort', 'stat', 'tail', 'tee', 'test', 'timeout', 'top', 'touch', 'tr',
  'true', 'uname', 'wc', 'wget', 'whoami', 'xargs', 'yes',
];

/**
 * busyboxRootfs is a root filesystem with a static busybox at /bin/busybox, its applets linked in /bin, a root
 * user, and `extra` entries (e.g. a web root).
 */
export function busyboxRootfs(busybox: Buffer, extra: TarEntry[] = []): Buffer {
  return tar([
    ...BASE_DIRS,
    { type: 'dir', path: 'bin' },
    { type: 'file', path: 'bin/busybox', data: busybox, mode: 0o755 },
    ...BUSYBOX_APPLETS.map((a): TarEntry => ({ type: 'symlink', path: `bin/${a}`, target: 'busybox' })),
    { type: 'dir', path: 'root', mode: 0o700 },
    { type: 'file', path: 'etc/passwd', data: Buffer.from('root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n') },
    { type: 'file', path: 'etc/group', data: Buffer.from('root:x:0:\nnogroup:x:65534:\n') },
    ...extra,
  ]);
}
