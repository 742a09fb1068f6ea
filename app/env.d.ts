/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** The build's time (ISO 8601): orders app versions, so the newer engine always wins. */
  readonly VITE_TALLY_BUILD: string;
}
