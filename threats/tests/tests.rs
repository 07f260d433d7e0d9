mod people;
