mod attack;
mod people;
mod reports;
mod threat_cli;
mod threat_fixtures;
mod threat_model;
mod verify;
