import { errorFactory, type ErrorCodeOf } from '../errors.js';

/** Every code raised by the MQTT brokers and clients (src/mqtt), and its kind. */
export const MQTT_ERRORS = {
  mqtt_bad_grant: 'input',
  mqtt_broker_listen: 'io',
  mqtt_connect_failed: 'io',
  mqtt_publish_failed: 'io',
  mqtt_subscribe_refused: 'refused',
  mqtt_dynsec_failed: 'io',
  mqtt_closed: 'io',
} as const;
export type MqttErrorCode = ErrorCodeOf<typeof MQTT_ERRORS>;
export const mqttError = errorFactory(MQTT_ERRORS);
