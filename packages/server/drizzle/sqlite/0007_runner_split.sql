ALTER TABLE `runners` ADD `url` text;--> statement-breakpoint
ALTER TABLE `runners` ADD `labels` text DEFAULT '{}' NOT NULL;--> statement-breakpoint
ALTER TABLE `runners` ADD `report` text;--> statement-breakpoint
ALTER TABLE `runners` ADD `draining` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `sessions` ADD `lease_generation` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `sessions` ADD `runner_labels` text;