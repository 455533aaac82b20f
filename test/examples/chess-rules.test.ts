/** The chess example's rules and host game: mates, draws, refusals, the move clock, input checks. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { chooseChessMove, FOOLS_MATE, scriptedBot } from '../../examples/chess/bot.js';
import { chessHostGame, type ChessHostSession } from '../../examples/chess/host-game.js';
import { ChessMatch, replay } from '../../examples/chess/rules.js';

describe('chess rules', () => {
  it("fool's mate ends the game: Black wins by checkmate, White loses", () => {
    const m = new ChessMatch(['w1', 'b1']);
    let last;
    for (const [i, mv] of FOOLS_MATE.entries()) last = m.move(i % 2 === 0 ? 'w1' : 'b1', mv);
    expect(last).toMatchObject({ ok: true, state: { result: { winner: 'b', reason: 'checkmate' }, check: true } });
    expect(last!.ok && last!.end?.results).toEqual([
      { playerId: 'b1', outcome: 'win', rank: 1, score: 1 },
      { playerId: 'w1', outcome: 'loss', rank: 2, score: 0 },
    ]);
    expect(m.move('w1', 'e4')).toMatchObject({ ok: false, error: 'game_over' });
  });

  it('refuses out-of-turn, illegal and stranger moves, and changes nothing', () => {
    const m = new ChessMatch(['w1', 'b1']);
    expect(m.move('b1', 'e5')).toMatchObject({ ok: false, error: 'not_your_turn' });
    expect(m.move('w1', 'e5')).toMatchObject({ ok: false, error: 'illegal_move' });
    expect(m.move('w1', 'Ke2')).toMatchObject({ ok: false, error: 'illegal_move' });
    expect(m.move('x', 'e4')).toMatchObject({ ok: false, error: 'not_a_player' });
    expect(m.moves).toEqual([]);
    // UCI works too and is logged as SAN
    expect(m.move('w1', 'g1f3')).toMatchObject({ ok: true, state: { moves: ['Nf3'], turn: 'b', last: { san: 'Nf3', by: 'w1' } } });
  });

  it('sees threefold repetition, because the position is built by replaying the log', () => {
    const m = new ChessMatch(['w1', 'b1']);
    const shuffle = ['Nf3', 'Nf6', 'Ng1', 'Ng8', 'Nf3', 'Nf6', 'Ng1', 'Ng8'];
    let v;
    for (const [i, mv] of shuffle.entries()) v = m.move(i % 2 === 0 ? 'w1' : 'b1', mv);
    expect(v).toMatchObject({ ok: true, state: { result: { reason: 'threefold_repetition' } } });
    expect(v!.ok && v!.end?.results.map((r) => r.outcome)).toEqual(['draw', 'draw']);
    // a client replaying the same log reaches the same verdict; a FEN alone would not
    expect(replay(shuffle).isThreefoldRepetition()).toBe(true);
  });

  it('resignation and draw offers are protocol actions', () => {
    const m = new ChessMatch(['w1', 'b1']);
    expect(m.draw('w1', 'accept')).toMatchObject({ ok: false, error: 'no_draw_offer' });
    expect(m.draw('w1', 'offer')).toMatchObject({ ok: true, state: { drawOffer: 'w1' } });
    expect(m.draw('w1', 'accept')).toMatchObject({ ok: false, error: 'own_draw_offer' });
    expect(m.draw('b1', 'decline')).toMatchObject({ ok: true });
    expect(m.snapshot().drawOffer).toBeUndefined();
    m.draw('b1', 'offer');
    // a move answers an open offer with no
    expect(m.move('w1', 'e4')).toMatchObject({ ok: true });
    expect(m.snapshot().drawOffer).toBeUndefined();
    m.draw('b1', 'offer');
    expect(m.draw('w1', 'accept')).toMatchObject({ ok: true, state: { result: { reason: 'draw_agreed' } } });

    const r = new ChessMatch(['w1', 'b1']);
    expect(r.resign('w1')).toMatchObject({ ok: true, state: { result: { winner: 'b', reason: 'resigned' } } });
  });

  it('the bot mates in one when it can and otherwise plays legal moves to the end', () => {
    expect(chooseChessMove(replay(['f3', 'e5', 'g4']))).toBe('Qh4#');
    const m = new ChessMatch(['w1', 'b1']);
    let n = 0;
    let seed = 7;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    while (!m.over && n < 600) {
      const mv = chooseChessMove(replay(m.moves), random)!;
      expect(m.move(m.toMove, mv)).toMatchObject({ ok: true });
      n++;
    }
    const bot = scriptedBot(FOOLS_MATE);
    expect(bot(replay([]))).toBe('f3');
    expect(bot(replay(['f3', 'e5', 'g4']))).toBe('Qh4#');
  });
});

type Handler = (playerId: string, ext: unknown) => unknown;

function session(settings?: unknown) {
  let handler: Handler | undefined;
  const sent: unknown[] = [];
  const ended: unknown[] = [];
  const s = {
    players: [{ playerId: 'a' }, { playerId: 'b' }],
    settings,
    broadcast: (m: { ext?: unknown }) => sent.push(m.ext),
    onAction: (h: Handler) => {
      handler = h;
    },
    end: (r: unknown) => ended.push(r),
    on: () => undefined,
  } as unknown as ChessHostSession;
  chessHostGame({ moveTimeMs: 5_000 }).begin(s);
  return { act: (p: string, ext: unknown) => handler!(p, ext), sent, ended };
}

function refusal(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('chess host game', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it.each([null, 'e4', 42, [], { t: 'move' }, { t: 'move', move: 4 }, { t: 'draw', op: 'maybe' }, { t: 'state' }])('refuses %j as a bad action', (ext) => {
    expect(refusal(() => session().act('a', ext))).toMatchObject({ kind: 'refused', code: 'bad_action' });
  });

  it('refuses an illegal move with its own reason, plays a legal one and broadcasts the log', () => {
    const { act, sent } = session();
    expect(sent[0]).toMatchObject({ t: 'state', moves: [], turn: 'w', colors: { a: 'w', b: 'b' }, moveTimeMs: 5_000 });
    expect(refusal(() => act('a', { t: 'move', move: 'e5' }))).toMatchObject({ kind: 'refused', code: 'illegal_move' });
    expect(refusal(() => act('b', { t: 'move', move: 'e5' }))).toMatchObject({ kind: 'refused', code: 'not_your_turn' });
    expect(act('a', { t: 'move', move: 'e4' })).toEqual({ t: 'ok' });
    expect(sent.at(-1)).toMatchObject({ t: 'state', moves: ['e4'], turn: 'b' });
  });

  it('the side to move loses on time when its move clock runs out; a move restarts the clock', () => {
    const { act, sent, ended } = session();
    vi.advanceTimersByTime(4_000);
    act('a', { t: 'move', move: 'e4' });
    vi.advanceTimersByTime(4_000);
    expect(ended).toEqual([]);
    vi.advanceTimersByTime(1_500);
    vi.runOnlyPendingTimers(); // the end is sent after the current tick
    expect(sent.at(-1)).toMatchObject({ result: { winner: 'w', reason: 'timeout' } });
    expect(ended[0]).toMatchObject({ outcomes: { a: { result: 'win' }, b: { result: 'loss' } }, gameData: { moves: ['e4'] } });
  });

  it('session settings set the move time', () => {
    const { sent } = session({ moveTimeMs: 30_000 });
    expect(sent[0]).toMatchObject({ moveTimeMs: 30_000 });
  });
});
