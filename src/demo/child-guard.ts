/**
 * Preloaded (`node --import`) into the servers `iyesmp demo` starts. They get an IPC channel to the
 * demo: when the demo goes away in any way, even killed outright, the channel closes and the server
 * stops as on SIGTERM (drains, then exits), so no demo server ever outlives the demo. The channel
 * is unref'd: it never keeps a server alive by itself.
 */
process.channel?.unref();
process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));

export {};
