export const LocalClients = {
  machine: 'local-machine',
  browser: 'local-spa'
} as const

/** What `npm run token` needs to find the running local issuer; no secrets. */
export interface IssuerInfo {
  issuer: string
  audience: string
  machineClientId: string
}

export const ISSUER_INFO_FILE = 'issuer.json'

/** Where the local issuer keeps its state unless LOCAL_ISSUER_DATA says otherwise. */
export const DEFAULT_DATA_DIR = '.local-issuer'
