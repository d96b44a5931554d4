CREATE TABLE `servers` (
	`id` text PRIMARY KEY NOT NULL,
	`url` text NOT NULL,
	`heartbeat_at` text NOT NULL
);
