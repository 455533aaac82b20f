import type { AdmissionRefusal, DepartureReason, PlayerStatus, PlayerView, SessionReport, SessionTelemetry, SourceAddress } from './types.js';

/** Everything the session table tells the transport adapter and the game. All carry `at` (the `now` given). */
export type HostSessionEvent =
  | { type: 'session_created'; sessionId: string; at: number; joinDeadline: number }
  | { type: 'players_added'; sessionId: string; at: number; playerIds: string[] }
  /** one player's status changed; `roster` is the whole session's view to broadcast to its players */
  | {
      type: 'player_status';
      sessionId: string;
      playerId: string;
      status: PlayerStatus;
      previous: PlayerStatus;
      departure?: DepartureReason;
      at: number;
      roster: PlayerView[];
    }
  | {
      type: 'player_admitted';
      sessionId: string;
      playerId: string;
      connectionId: string;
      /** the player had been admitted before (after losing its connection, or replacing it with the seat's reconnect secret) */
      reconnect: boolean;
      /** the older connection this one superseded, its reconnect secret presented (also announced by `close_connection`) */
      replaced?: string;
      at: number;
    }
  | {
      type: 'admission_refused';
      reason: AdmissionRefusal;
      message: string;
      source: SourceAddress;
      sessionId?: string;
      playerId?: string;
      at: number;
    }
  /** a deadline passed: never arrived, never confirmed ready, or did not come back after losing the connection */
  | { type: 'player_timed_out'; sessionId: string; playerId: string; reason: 'no_show' | 'ready_timeout' | 'connection_lost'; at: number }
  /** the transport should close this connection (already forgotten by the table) */
  | {
      type: 'close_connection';
      connectionId: string;
      sessionId: string;
      playerId: string;
      reason: 'replaced' | 'departed' | 'session_ended';
      at: number;
    }
  /** every remaining player is ready: the game code takes over */
  | { type: 'game_begin'; sessionId: string; at: number; roster: PlayerView[]; settings: unknown }
  | { type: 'session_ended'; sessionId: string; at: number; report: SessionReport; telemetry: SessionTelemetry };
