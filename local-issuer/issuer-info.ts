export const LocalClients = {
  machine: 'local-machine',
  browser: 'local-spa',
  /** The API itself, introspecting opaque tokens. */
  api: 'local-api'
} as const

/** Where the local issuer keeps its state unless LOCAL_ISSUER_DATA says otherwise. */
export const DEFAULT_DATA_DIR = '.local-issuer'
