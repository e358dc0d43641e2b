// runtime: the kubelet's container runtime layer — the ContainerRuntime interface and its Docker implementation.
export * from './types.ts';
export { DockerRuntime, DEFAULT_PAUSE_IMAGE, DEFAULT_SOCKET, parseDockerHost } from './docker.ts';
export type { DockerRuntimeOptions } from './docker.ts';
export { busyboxRootfs, pauseRootfs, tar, BUSYBOX_APPLETS } from './rootfs.ts';
export type { TarEntry } from './rootfs.ts';
