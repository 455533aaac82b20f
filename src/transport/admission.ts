/**
 * Who may hold a connection, and for how long before proving itself. Sans-IO: the server passes
 * `now`, asks `expired(now)` when `nextDeadline()` is due, and closes what it is told to.
 *
 * A connection is *unauthenticated* from its handshake until its endpoint trusts it (a login on the
 * Auth server, an admitted seat on a Host). Until then it must reach each stage in time (first stream,
 * hello, login) and it counts against limits per source address and per certificate, and against a
 * share of the server's connections, so strangers can never crowd out trusted connections. Trusted
 * connections are limited per account instead: a game build's certificate and a NAT's address are
 * shared by many real players.
 */

/** What an unauthenticated connection must do next. */
export type AdmissionStage = 'stream' | 'hello' | 'login';

export interface AdmissionLimits {
  /** unauthenticated connections at once, over all sources */
  maxUnauthenticated: number;
  maxUnauthenticatedPerAddress: number;
  maxUnauthenticatedPerCert: number;
  /** trusted connections of one account */
  maxPerAccount: number;
  /** from the handshake to the first stream */
  firstStreamMs: number;
  /** from the first stream to the hello */
  helloMs: number;
  /** from the hello to the login (or to an untrusting logout, for the next login) */
  loginMs: number;
  /** the stage that makes a connection trusted by itself; `login` waits for `trust()` */
  trustAt: AdmissionStage;
}

export const ADMISSION_REFUSALS = ['too_many_unauthenticated', 'too_many_from_address', 'too_many_for_certificate', 'too_many_for_account'] as const;
export type AdmissionRefusal = (typeof ADMISSION_REFUSALS)[number];

export type AdmitResult = { ok: true } | { ok: false; reason: AdmissionRefusal; message: string };

/** A connection that missed its deadline: `stage` is what it did not reach in time. */
export interface Expired {
  id: string;
  stage: AdmissionStage;
}

interface Entry {
  address: string;
  cert: string;
  /** the stage awaited; undefined once trusted */
  awaiting: AdmissionStage | undefined;
  deadline: number;
  account: string | undefined;
}

const NEXT: Record<AdmissionStage, AdmissionStage | undefined> = { stream: 'hello', hello: 'login', login: undefined };
const OK: AdmitResult = { ok: true };

export class ConnectionAdmission {
  readonly limits: AdmissionLimits;
  readonly #entries = new Map<string, Entry>();
  /**
   * The entries still awaiting a stage (unauthenticated), the only ones with a deadline: deadlines
   * are looked up after every admission step, and scanning every trusted connection for them made
   * each login cost time in proportion to the players already logged in.
   */
  readonly #waiting = new Map<string, Entry>();
  readonly #byAddress = new Counts();
  readonly #byCert = new Counts();
  readonly #byAccount = new Counts();
  #unauthenticated = 0;

  constructor(limits: AdmissionLimits) {
    for (const [k, v] of Object.entries(limits)) {
      if (k !== 'trustAt' && !(typeof v === 'number' && v > 0)) throw new RangeError(`admission limit ${k} must be a positive number`);
    }
    this.limits = limits;
  }

  /** A connection finished its handshake with this (verified) certificate. */
  open(id: string, source: { address: string; cert: string }, now: number): AdmitResult {
    const l = this.limits;
    if (this.#entries.has(id)) throw new Error(`connection ${id} is already open`);
    if (this.#unauthenticated >= l.maxUnauthenticated) {
      return refuse('too_many_unauthenticated', `already ${l.maxUnauthenticated} connections that have not logged in`);
    }
    if (this.#byAddress.get(source.address) >= l.maxUnauthenticatedPerAddress) {
      return refuse('too_many_from_address', `already ${l.maxUnauthenticatedPerAddress} connections from ${source.address} that have not logged in`);
    }
    if (this.#byCert.get(source.cert) >= l.maxUnauthenticatedPerCert) {
      return refuse('too_many_for_certificate', `already ${l.maxUnauthenticatedPerCert} connections with this certificate that have not logged in`);
    }
    const e: Entry = { address: source.address, cert: source.cert, awaiting: 'stream', deadline: now + l.firstStreamMs, account: undefined };
    this.#entries.set(id, e);
    this.#waiting.set(id, e);
    this.#countStranger(source, 1);
    return OK;
  }

  /**
   * The server confirmed an `accepted`-mode connection (ACCEPTED sent): only now may its peer open a
   * stream, so the first-stream deadline counts from here (a busy server's slow confirmation is not
   * the peer's delay; the confirmation has its own timeout). A deadline already reported stays
   * passed. A `first-stream` connection reaches `stream` at its hand-over instead (confirm.ts).
   */
  confirmed(id: string, now: number): void {
    const e = this.#entries.get(id);
    if (e?.awaiting === 'stream' && Number.isFinite(e.deadline)) e.deadline = now + this.limits.firstStreamMs;
  }

  /** The connection reached `stage` (its first stream, its hello); later repeats are ignored. */
  reached(id: string, stage: Exclude<AdmissionStage, 'login'>, now: number): void {
    const e = this.#entries.get(id);
    if (!e || e.awaiting !== stage) return;
    if (this.limits.trustAt === stage) return void this.#trust(id, e, undefined);
    e.awaiting = NEXT[stage];
    e.deadline = now + (stage === 'stream' ? this.limits.helloMs : this.limits.loginMs);
  }

  /** The endpoint trusts the connection (a login, an admitted seat), as `account` when it has one. */
  trust(id: string, account: string | undefined): AdmitResult {
    const e = this.#entries.get(id);
    if (!e) return OK;
    if (account !== undefined && account !== e.account && this.#byAccount.get(account) >= this.limits.maxPerAccount) {
      return refuse('too_many_for_account', `this account already has ${this.limits.maxPerAccount} connections`);
    }
    this.#trust(id, e, account);
    return OK;
  }

  /**
   * The connection is no longer trusted (a logout): it must log in again within `loginMs`, and is
   * refused (false) when its source already has all the unauthenticated connections it may have.
   */
  distrust(id: string, now: number): boolean {
    const e = this.#entries.get(id);
    if (!e || e.awaiting !== undefined) return true;
    if (e.account !== undefined) this.#byAccount.add(e.account, -1);
    e.account = undefined;
    const l = this.limits;
    const room =
      this.#unauthenticated < l.maxUnauthenticated &&
      this.#byAddress.get(e.address) < l.maxUnauthenticatedPerAddress &&
      this.#byCert.get(e.cert) < l.maxUnauthenticatedPerCert;
    e.awaiting = 'login';
    e.deadline = now + l.loginMs;
    this.#waiting.set(id, e);
    this.#countStranger(e, 1);
    return room;
  }

  /** A trusted connection refused by its endpoint: its account count is freed now; `close` still follows. */
  release(id: string): void {
    const e = this.#entries.get(id);
    if (e?.account === undefined) return;
    this.#byAccount.add(e.account, -1);
    e.account = undefined;
  }

  close(id: string): void {
    const e = this.#entries.get(id);
    if (!e) return;
    this.#entries.delete(id);
    this.#waiting.delete(id);
    if (e.awaiting !== undefined) this.#countStranger(e, -1);
    if (e.account !== undefined) this.#byAccount.add(e.account, -1);
  }

  /** Connections whose deadline has passed; each is reported once (the caller closes it, then calls `close`). */
  expired(now: number): Expired[] {
    const out: Expired[] = [];
    for (const [id, e] of this.#waiting) {
      if (e.awaiting === undefined || e.deadline > now) continue;
      out.push({ id, stage: e.awaiting });
      e.deadline = Number.POSITIVE_INFINITY;
    }
    return out;
  }

  /** When `expired` next has something to report; undefined when nothing waits. */
  nextDeadline(): number | undefined {
    let next = Number.POSITIVE_INFINITY;
    for (const e of this.#waiting.values()) if (e.awaiting !== undefined && e.deadline < next) next = e.deadline;
    return Number.isFinite(next) ? next : undefined;
  }

  stats(): { connections: number; unauthenticated: number } {
    return { connections: this.#entries.size, unauthenticated: this.#unauthenticated };
  }

  #trust(id: string, e: Entry, account: string | undefined): void {
    if (e.awaiting !== undefined) this.#countStranger(e, -1);
    e.awaiting = undefined;
    this.#waiting.delete(id);
    e.deadline = Number.POSITIVE_INFINITY;
    if (e.account === account) return;
    if (e.account !== undefined) this.#byAccount.add(e.account, -1);
    if (account !== undefined) this.#byAccount.add(account, 1);
    e.account = account;
  }

  #countStranger(e: { address: string; cert: string }, d: 1 | -1): void {
    this.#unauthenticated += d;
    this.#byAddress.add(e.address, d);
    this.#byCert.add(e.cert, d);
  }
}

function refuse(reason: AdmissionRefusal, message: string): AdmitResult {
  return { ok: false, reason, message };
}

/** Counts by key; a key at zero is forgotten, so memory follows the live connections. */
class Counts {
  readonly #m = new Map<string, number>();
  get(k: string): number {
    return this.#m.get(k) ?? 0;
  }
  add(k: string, d: number): void {
    const n = this.get(k) + d;
    if (n <= 0) this.#m.delete(k);
    else this.#m.set(k, n);
  }
}
