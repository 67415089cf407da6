-- +goose Up
-- Operator access tokens carry the operator's token version; a password
-- change, a disable and "log out everywhere" bump it, so every token issued
-- before stops working (tokens without the claim count as version 0).
ALTER TABLE operators ADD COLUMN token_version bigint NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE operators DROP COLUMN token_version;
