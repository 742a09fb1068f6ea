/**
 * The largest backup file read: far beyond a person's counting, well within a tab's memory.
 * Zod-free, so the page can check a file's size before reading it.
 */
export const maxBackupBytes = 50 * 1024 * 1024;
