/**
 * Terminal chess on iyesmp, drawn with ink. See README.md in this folder.
 *
 *   chess                        you against the bot, everything in this process (LAN mode on loopback)
 *   chess --bot                  watch the bot play the bot
 *   chess --host-lan / --join invite.json     play a friend on your network
 *   chess --server host:port --cert client.pem --key client.key --ca master.pem
 *                                play on a real iyesmp deployment (matchmaking against other players)
 */
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { Chess } from 'chess.js';
import { render, Text, useApp, useInput } from 'ink';
import { connectToAuth, IyesmpError, type AuthClient, type ConnectOptions, type GameEnd } from 'iyesmp/client';
import { inviteConnectOptions, lanAddress, startLanServer, type LanServer } from 'iyesmp/client/lan';
import { useEffect, useRef, useState } from 'react';
import { chooseChessMove } from './bot.js';
import { chessHostGame } from './host-game.js';
import { ChessExt, type Color, GAME_VERSION, MODE, type StateMsg } from './messages.js';
import { type ChessSession, playChess, positionOf } from './player.js';
import { ChessView, parseCommand } from './view.js';

const HELP = `usage: chess [--bot] [--name NAME]
       chess --host-lan [--invite FILE] [--port N] [--address IP] [--bot]
       chess --join FILE [--bot]
       chess --server HOST:PORT --cert FILE --key FILE --ca FILE [--server-name NAME] [--bot]

On your move type a move in SAN (e4, Nf3, O-O, exd5, e8=Q) or UCI (e2e4, e7e8q),
or: resign, draw (offer a draw), accept / decline (answer your opponent's offer). Ctrl-C quits.`;

type Ext = ChessExt;

interface AppProps {
  game: ChessSession;
  bot: boolean;
  onEnd: (end: GameEnd<Ext>) => void;
}

function ChessApp({ game, bot, onEnd }: AppProps) {
  const { exit } = useApp();
  const [view, setView] = useState<{ chess: Chess; state: StateMsg; mine?: Color } | undefined>();
  const [input, setInput] = useState('');
  const [refused, setRefused] = useState<string | undefined>();
  const [status, setStatus] = useState<string | undefined>('Waiting for the game to begin...');

  useEffect(() => {
    const hooks = {
      onState: (chess: Chess, state: StateMsg, mine: Color | undefined) => {
        setView({ chess, state, ...(mine ? { mine } : {}) });
        setStatus(undefined);
      },
      onRefused: (err: IyesmpError) => setRefused(err.message),
    };
    // the bot decides its own moves; a person's moves come from the input line below
    const decide = bot ? (chess: Chess) => chooseChessMove(chess) : () => undefined;
    playChess(game, decide, hooks).then(
      (end) => {
        if (end.ext?.t === 'state') {
          const chess = positionOf(end.ext);
          if (chess) setView((v) => ({ chess, state: end.ext as StateMsg, ...(v?.mine ? { mine: v.mine } : {}) }));
        }
        setStatus(summary(end, game.playerId));
        onEnd(end);
        setTimeout(exit, 50);
      },
      (err: unknown) => {
        setStatus(`The game stopped: ${(err as Error).message}`);
        setTimeout(exit, 50);
      },
    );
  }, [game, bot, onEnd, exit]);

  // The line being typed lives in a ref: a terminal may deliver "Ke3" and Enter in one chunk, and
  // the submit must see the text of that same chunk.
  const typed = useRef('');
  const submit = (): void => {
    const cmd = parseCommand(typed.current);
    typed.current = '';
    setInput('');
    if (!cmd) return;
    setRefused(undefined);
    game.action(cmd).catch((err: unknown) => setRefused((err as Error).message));
  };
  useInput(
    (ch, key) => {
      if (key.return) return submit();
      if (key.backspace || key.delete) {
        typed.current = typed.current.slice(0, -1);
        return setInput(typed.current);
      }
      if (key.ctrl || key.meta) return;
      for (const c of ch) {
        if (c === '\r' || c === '\n') submit();
        else if (c >= ' ' && c !== '\u007f') typed.current = (typed.current + c).slice(0, 16);
      }
      setInput(typed.current);
    },
    { isActive: !bot && process.stdin.isTTY === true },
  );

  if (!view) return <ChessStatus text={status ?? ''} />;
  return (
    <ChessView
      chess={view.chess}
      state={view.state}
      me={game.playerId}
      {...(view.mine ? { mine: view.mine } : {})}
      {...(bot ? {} : { input })}
      {...(refused ? { refused } : {})}
      {...(status ? { status } : {})}
    />
  );
}

function ChessStatus({ text }: { text: string }) {
  return <Text>{text}</Text>;
}

function summary(end: GameEnd<Ext>, me: string): string {
  const mine = end.results.find((r) => r.playerId === me);
  switch (mine?.outcome) {
    case 'win':
      return 'You win!';
    case 'loss':
      return 'You lose.';
    case 'draw':
      return 'Draw.';
    default:
      return `Game over (${end.reason}${end.message ? `: ${end.message}` : ''}).`;
  }
}

/** The in-process opponent of the default mode. */
async function runBot(client: AuthClient<Ext>): Promise<void> {
  try {
    await client.login({ method: 'guest', displayName: 'bot' });
    const ticket = await client.matchmake({ mode: MODE });
    const game = await client.joinHost(ticket);
    await playChess(game, (chess) => chooseChessMove(chess));
  } catch (err) {
    console.error(`the bot stopped: ${(err as Error).message}`);
  }
}

async function main(): Promise<number> {
  const { values: a } = parseArgs({
    options: {
      bot: { type: 'boolean', default: false },
      name: { type: 'string' },
      'host-lan': { type: 'boolean', default: false },
      invite: { type: 'string', default: 'chess-invite.json' },
      port: { type: 'string' },
      address: { type: 'string' },
      join: { type: 'string' },
      server: { type: 'string' },
      'server-name': { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      ca: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (a.help) {
    console.log(HELP);
    return 0;
  }
  if (!a.bot && !process.stdin.isTTY) {
    console.error('error: playing by hand needs a terminal (use --bot to let the bot play)');
    return 2;
  }
  const base = { gameVersion: GAME_VERSION, extSchema: ChessExt };
  const cleanup: Array<() => Promise<void>> = [];
  const stop = async (): Promise<void> => {
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));

  try {
    let me: AuthClient<Ext>;
    if (a.join) {
      const invite = JSON.parse(await readFile(a.join, 'utf8')) as unknown;
      me = await connectToAuth<Ext>(inviteConnectOptions(invite, base));
    } else if (a.server) {
      if (!a.cert || !a.key || !a.ca) throw new IyesmpError('usage', 'missing_flags', '--server needs --cert, --key and --ca');
      const o: ConnectOptions<Ext> = { ...base, address: a.server, identity: { cert: a.cert, key: a.key }, trust: { caPem: a.ca } };
      if (a['server-name']) o.serverName = a['server-name'];
      me = await connectToAuth<Ext>(o);
    } else {
      const lan: LanServer<Ext> = await startLanServer<Ext>({
        game: chessHostGame(),
        gameVersion: GAME_VERSION,
        advertise: a['host-lan'] ? (a.address ?? lanAddress()) : '127.0.0.1',
        ...(a.port ? { port: Number(a.port) } : {}),
      });
      cleanup.push(() => lan.close());
      me = await connectToAuth<Ext>(await lan.connectOptions(base));
      if (a['host-lan']) {
        await writeFile(a.invite!, JSON.stringify(await lan.invite()), { mode: 0o600 });
        console.log(`Hosting on ${lan.address}. Give ${a.invite} to your friend; they run: chess --join ${a.invite}`);
      } else {
        const botClient = await connectToAuth<Ext>(await lan.connectOptions(base));
        cleanup.push(() => botClient.close());
        void runBot(botClient);
      }
    }
    cleanup.push(() => me.close());
    const who = await me.login({ method: 'guest', displayName: a.name ?? (a.bot ? 'bot' : 'player') });
    console.log(`Logged in to ${me.welcome.serverName} as ${who.displayName}. Looking for an opponent...`);
    const ticket = await me.matchmake({ mode: MODE });
    const game = await me.joinHost(ticket);
    let ended = false;
    const app = render(<ChessApp game={game} bot={a.bot!} onEnd={() => (ended = true)} />);
    await app.waitUntilExit();
    await stop();
    return ended ? 0 : 1;
  } catch (err) {
    await stop();
    if (err instanceof IyesmpError) {
      console.error(`error: ${err.message}${err.hint ? `\nhint: ${err.hint}` : ''}`);
      return 1;
    }
    throw err;
  }
}

process.exitCode = await main();
