-- Adopted stacks keep running from the directory they were started in, so that relative paths
-- in their compose file (bind mounts, env_file, build contexts) keep resolving where they did.
ALTER TABLE stacks ADD COLUMN project_dir TEXT;
