import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { connectEngine } from './engine-client.ts';
import './styles.css';

const client = connectEngine();
// For end-to-end tests and the benchmark: the same client the UI uses, nothing more.
(globalThis as { tally?: unknown }).tally = client;

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App client={client} />
  </StrictMode>,
);
