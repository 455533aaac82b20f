/**
 * Terminal tic-tac-toe on iyesmp. See README.md in this folder.
 *
 *   play                         you against the bot, everything in this process (LAN mode on loopback)
 *   play --host-lan              host a LAN game: writes an invite file for a friend, then you play them
 *   play --join invite.json      join a friend's LAN game with their invite
 *   play --server host:port --cert client.pem --key client.key --ca master.pem
 *                                play on a real iyesmp deployment (matchmaking against other players)
 *   add --bot to let the bot play for you (two terminals with --bot watch a bot game)
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createInterface, type Interface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { connectToAuth, IyesmpError, type AuthClient, type ConnectOptions, type GameEnd } from 'iyesmp/client';
import { inviteConnectOptions, lanAddress, startLanServer, type LanServer } from 'iyesmp/client/lan';
import { chooseMove } from './bot.js';
import { ticTacToeHostGame } from './host-game.js';
import { GAME_VERSION, MODE, TicTacToeExt } from './messages.js';
import { playTicTacToe } from './player.js';
import { legalMoves, renderBoard, type GameState, type Mark } from './rules.js';

const HELP = `usage: play [--bot] [--name NAME]
       play --host-lan [--invite FILE] [--port N] [--address IP] [--bot]
       play --join FILE [--bot]
       play --server HOST:PORT --cert FILE --key FILE --ca FILE [--server-name NAME] [--bot]`;

type Ext = TicTacToeExt;

async function main(): Promise<number> {
  const { values: a } = parseArgs({
    options: {
      bot: { type: 'boolean', default: false },
      name: { type: 'string' },
      'host-lan': { type: 'boolean', default: false },
      invite: { type: 'string', default: 'tictactoe-invite.json' },
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
  const base = { gameVersion: GAME_VERSION, extSchema: TicTacToeExt };
  const cleanup: Array<() => Promise<void>> = [];
  const rl = a.bot ? undefined : createInterface({ input: process.stdin, output: process.stdout });
  const stop = async (): Promise<void> => {
    rl?.close();
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
        game: ticTacToeHostGame,
        gameVersion: GAME_VERSION,
        advertise: a['host-lan'] ? (a.address ?? lanAddress()) : '127.0.0.1',
        ...(a.port ? { port: Number(a.port) } : {}),
      });
      cleanup.push(() => lan.close());
      me = await connectToAuth<Ext>(await lan.connectOptions(base));
      if (a['host-lan']) {
        await writeFile(a.invite!, JSON.stringify(await lan.invite()), { mode: 0o600 });
        console.log(`Hosting on ${lan.address}. Give ${a.invite} to your friend; they run: play --join ${a.invite}`);
      } else {
        // the opponent: a bot client in this process, going through the same login and matchmaking
        const botClient = await connectToAuth<Ext>(await lan.connectOptions(base));
        cleanup.push(() => botClient.close());
        void runBot(botClient);
      }
    }
    cleanup.push(() => me.close());
    const who = await me.login({ method: 'guest', displayName: a.name ?? (a.bot ? 'bot' : 'player') });
    console.log(`Logged in to ${me.welcome.serverName} as ${who.displayName}. Looking for an opponent...`);
    const ticket = await me.matchmake({
      mode: MODE,
      onStatus: (s) => {
        if (s.phase === 'found') console.log('Opponent found.');
        if (s.phase === 'requeued') console.log(`The match fell through (${s.reason}); still looking...`);
        if (s.phase === 'waiting') console.log(`Waiting for the game to be set up (${Math.round(s.waitedMs / 1000)} s)...`);
      },
    });
    const game = await me.joinHost(ticket);
    game.on('close', ({ error }) => {
      if (error) console.error(`\n${error.message}${error.hint ? `\n(${error.hint})` : ''}`);
    });
    let myMark: Mark | undefined;
    const end = await playTicTacToe(game, rl ? human(rl) : (s, m) => chooseMove(s, m)!, {
      onState: (state, msg, mine) => {
        myMark = mine;
        console.log(`\n${renderBoard(state.board)}\n`);
        if (msg.last) console.log(`${msg.last.by === game.playerId ? 'You' : 'Opponent'} played ${msg.last.cell}.`);
        if (state.result === undefined) console.log(state.turn === mine ? `Your turn (you are ${mine}).` : 'Waiting for the opponent...');
      },
      onRefused: (err) => console.log(`Refused: ${err.message}`),
    });
    console.log(summary(end, game.playerId, myMark));
    await stop();
    return 0;
  } catch (err) {
    await stop();
    if (err instanceof IyesmpError) {
      console.error(`error: ${err.message}${err.hint ? `\nhint: ${err.hint}` : ''}`);
      return 1;
    }
    throw err;
  }
}

/** Asks the person at the terminal for a cell until it is a legal one. */
function human(rl: Interface) {
  return async (state: GameState, mark: Mark): Promise<number> => {
    const legal = legalMoves(state);
    for (;;) {
      const answer = (await rl.question(`Your move, ${mark} (${legal.join(' ')}): `)).trim();
      const cell = Number(answer);
      if (answer !== '' && legal.includes(cell)) return cell;
      console.log('Type the number of a free cell.');
    }
  };
}

/** The in-process opponent of the default mode. */
async function runBot(client: AuthClient<Ext>): Promise<void> {
  try {
    await client.login({ method: 'guest', displayName: 'bot' });
    const ticket = await client.matchmake({ mode: MODE });
    const game = await client.joinHost(ticket);
    await playTicTacToe(game, (s, m) => chooseMove(s, m)!);
  } catch (err) {
    console.error(`the bot stopped: ${(err as Error).message}`);
  }
}

function summary(end: GameEnd<Ext>, me: string, mark: Mark | undefined): string {
  const mine = end.results.find((r) => r.playerId === me);
  if (end.ext?.t === 'state') console.log(`\n${renderBoard(end.ext.board)}\n`);
  switch (mine?.outcome) {
    case 'win':
      return end.reason === 'completed' ? `You win${mark ? ` as ${mark}` : ''}!` : 'You win: your opponent left.';
    case 'loss':
      return 'You lose.';
    case 'draw':
      return 'Draw.';
    default:
      return `Game over (${end.reason}${end.message ? `: ${end.message}` : ''}).`;
  }
}

process.exitCode = await main();
