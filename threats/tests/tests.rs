mod attack;
mod people;
mod reports;
mod shard;
mod threat_cli;
mod threat_fixtures;
mod threat_model;
mod verify;
