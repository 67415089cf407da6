-- +goose Up
-- Keys imported from New API / one-api authenticate in both forms their
-- clients send: token_hash is the sha256 of the "sk-" form, alias_token_hash
-- the sha256 of the bare token the source stored. Rotation and revocation
-- clear the alias together with the token.
ALTER TABLE keys ADD COLUMN alias_token_hash char(64);
CREATE UNIQUE INDEX keys_alias_token_hash_key ON keys (alias_token_hash) WHERE alias_token_hash IS NOT NULL;

-- +goose Down
DROP INDEX keys_alias_token_hash_key;
ALTER TABLE keys DROP COLUMN alias_token_hash;
