-- 0002: the app version a device reported at its enrollment, kept apart
-- from app_version (the last one it reported, at a login too): a login
-- is held to the lower of the two (devices.Device.VersionBelow). Devices
-- enrolled before this migration take the version they have now.

ALTER TABLE devices ADD COLUMN enrolled_app_version TEXT NOT NULL DEFAULT '';
UPDATE devices SET enrolled_app_version = app_version;
