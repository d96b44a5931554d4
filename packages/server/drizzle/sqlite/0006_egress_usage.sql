ALTER TABLE `usage_records` ADD `egress_allowed` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `usage_records` ADD `egress_denied` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `usage_records` ADD `egress_bytes_up` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `usage_records` ADD `egress_bytes_down` integer DEFAULT 0 NOT NULL;