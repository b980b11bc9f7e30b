DROP INDEX users_status_last_login_at_idx;
DROP INDEX users_status_name_idx;
DROP INDEX users_status_username_key_idx;
DROP INDEX users_username_key_id_idx;
