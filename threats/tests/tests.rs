mod attack;
mod gateway;
mod people;
mod reports;
mod threat_cli;
mod threat_fixtures;
mod threat_model;
mod verify;
