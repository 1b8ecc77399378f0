-- A `local` or `tcp` endpoint's own security policy (JSON), set by an admin; NULL: the fleet
-- default from `[docker] default_policy`. Agent endpoints follow their node's policy.
ALTER TABLE endpoints ADD COLUMN security_policy TEXT;
