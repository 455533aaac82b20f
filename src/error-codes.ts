/**
 * Every registered error code, one union, for programs that match on `err.code` (the `--json`
 * output, a game's error screen). Types only: nothing here loads the layers. Each layer's table
 * is the source.
 */
import type {
  AccountErrorCode,
  AdminErrorCode,
  AuthErrorCode,
  HandoffErrorCode,
  HostRegistryErrorCode,
  LobbyErrorCode,
  MatchmakingErrorCode,
  SessionErrorCode,
} from './auth/errors.js';
import type { CliErrorCode } from './cli/errors.js';
import type { ClientErrorCode } from './client/errors.js';
import type { ConfigErrorCode } from './config/errors.js';
import type { DemoErrorCode } from './demo/errors.js';
import type { EventsErrorCode } from './events/emitter.js';
import type { FsErrorCode } from './fs/errors.js';
import type { HostErrorCode } from './host/errors.js';
import type { LanErrorCode } from './lan/errors.js';
import type { MetricsErrorCode } from './metrics/errors.js';
import type { MqttErrorCode } from './mqtt/errors.js';
import type { NetcodeErrorCode } from './netcode/errors.js';
import type { NetcodeSessionErrorCode } from './netcode/session/errors.js';
import type { PkiErrorCode } from './pki/errors.js';
import type { ProtocolLayerErrorCode } from './protocol/errors.js';
import type { ResultsErrorCode } from './results/errors.js';
import type { ServeErrorCode } from './serve/errors.js';
import type { StoreErrorCode } from './store/errors.js';
import type { TransportErrorCode } from './transport/errors.js';
import type { TurnsErrorCode } from './turns/errors.js';

export type {
  AccountErrorCode,
  AdminErrorCode,
  AuthErrorCode,
  CliErrorCode,
  ClientErrorCode,
  ConfigErrorCode,
  DemoErrorCode,
  EventsErrorCode,
  FsErrorCode,
  HandoffErrorCode,
  HostErrorCode,
  HostRegistryErrorCode,
  LanErrorCode,
  LobbyErrorCode,
  MatchmakingErrorCode,
  MetricsErrorCode,
  MqttErrorCode,
  NetcodeErrorCode,
  NetcodeSessionErrorCode,
  PkiErrorCode,
  ProtocolLayerErrorCode,
  ResultsErrorCode,
  ServeErrorCode,
  SessionErrorCode,
  StoreErrorCode,
  TransportErrorCode,
  TurnsErrorCode,
};

export type IyesmpErrorCode =
  | AccountErrorCode
  | AdminErrorCode
  | AuthErrorCode
  | CliErrorCode
  | ClientErrorCode
  | ConfigErrorCode
  | DemoErrorCode
  | EventsErrorCode
  | FsErrorCode
  | HandoffErrorCode
  | HostErrorCode
  | HostRegistryErrorCode
  | LanErrorCode
  | LobbyErrorCode
  | MatchmakingErrorCode
  | MetricsErrorCode
  | MqttErrorCode
  | NetcodeErrorCode
  | NetcodeSessionErrorCode
  | PkiErrorCode
  | ProtocolLayerErrorCode
  | ResultsErrorCode
  | ServeErrorCode
  | SessionErrorCode
  | StoreErrorCode
  | TransportErrorCode
  | TurnsErrorCode;
