ALTER TABLE `messages` ADD `source_index` integer;--> statement-breakpoint
ALTER TABLE `session_events` ADD `source_index` integer;