import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Every build gets its time as its version: the newer engine wins the writer lock.
process.env.VITE_TALLY_BUILD ??= new Date().toISOString();

export default defineConfig({
  plugins: [react()],
  worker: { format: 'es' },
  build: { target: 'es2022', sourcemap: true, outDir: process.env.TALLY_OUT_DIR ?? 'dist' },
});
