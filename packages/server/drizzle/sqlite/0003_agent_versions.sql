CREATE TABLE `agent_versions` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`agent_name` text NOT NULL,
	`version_number` integer NOT NULL,
	`name` text NOT NULL,
	`system_prompt` text,
	`release_notes` text,
	`is_active` integer NOT NULL,
	`knowledge_files` text NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `agent_versions_tenant_agent_number` ON `agent_versions` (`tenant_id`,`agent_name`,`version_number`);