/**
 * Hard limits applied to everything a peer sends. They bound memory per connection: a frame is
 * refused from its 4-byte length prefix alone, and MsgPack is scanned before it is decoded.
 */
export interface ProtocolLimits {
  /** Largest frame payload accepted or sent, in bytes (not counting the 4-byte prefix). */
  maxFrameBytes: number;
  /** Largest MsgPack string, in bytes. */
  maxStringBytes: number;
  /** Largest MsgPack bin, in bytes. */
  maxBinBytes: number;
  /** Most elements in one MsgPack array. */
  maxArrayLength: number;
  /** Most entries in one MsgPack map. */
  maxMapEntries: number;
  /** Deepest nesting of arrays/maps (the top-level message map is depth 1). */
  maxDepth: number;
}

/** Defaults for the control stream: 64 KiB frames are plenty for lobby/hand-off/game control data. */
export const DEFAULT_CONTROL_LIMITS: Readonly<ProtocolLimits> = Object.freeze({
  maxFrameBytes: 64 * 1024,
  maxStringBytes: 16 * 1024,
  maxBinBytes: 64 * 1024,
  maxArrayLength: 4096,
  maxMapEntries: 512,
  maxDepth: 32,
});

/** Defaults for bulk streams: bigger frames, payloads are opaque (only the header frame is MsgPack). */
export const DEFAULT_BULK_LIMITS: Readonly<ProtocolLimits> = Object.freeze({
  ...DEFAULT_CONTROL_LIMITS,
  maxFrameBytes: 1024 * 1024,
});

/** The 4-byte prefix can only express this much; limits above it are meaningless. */
export const MAX_FRAME_PREFIX_VALUE = 0xffff_ffff;

export function resolveLimits(partial: Partial<ProtocolLimits> | undefined, base: Readonly<ProtocolLimits> = DEFAULT_CONTROL_LIMITS): ProtocolLimits {
  const limits: ProtocolLimits = { ...base, ...(partial ?? {}) };
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`protocol limit ${key} must be a positive integer, got ${String(value)}`);
    }
  }
  if (limits.maxFrameBytes > MAX_FRAME_PREFIX_VALUE) {
    throw new RangeError(`protocol limit maxFrameBytes cannot exceed ${MAX_FRAME_PREFIX_VALUE}`);
  }
  return limits;
}
