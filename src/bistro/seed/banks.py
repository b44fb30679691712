"""Word banks the seed draws from: real cities and streets, cuisines, names and review phrases."""

# Real names keep their letters (Turkish dotless i included); the tables stay compact.
# ruff: noqa: RUF001
# fmt: off

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class City:
    name: str
    latitude: float
    longitude: float
    streets: tuple[str, ...]
    weight: int  # how many restaurants it gets relative to the others


CITIES: tuple[City, ...] = (
    City("London", 51.5074, -0.1278, ("Old Compton Street", "Brick Lane", "Upper Street",
         "Borough High Street", "Marylebone Lane", "Kingsland Road"), 9),
    City("Paris", 48.8566, 2.3522, ("Rue Oberkampf", "Rue de Bretagne", "Boulevard Saint-Germain",
         "Rue Montorgueil", "Rue des Martyrs", "Avenue Parmentier"), 8),
    City("New York", 40.7128, -74.0060, ("Bleecker Street", "Mott Street", "Smith Street",
         "Orchard Street", "Amsterdam Avenue", "Bedford Avenue"), 9),
    City("Lisbon", 38.7223, -9.1393, ("Rua Augusta", "Rua da Rosa", "Avenida da Liberdade",
         "Rua de São Bento", "Rua do Norte", "Largo do Intendente"), 5),
    City("Berlin", 52.5200, 13.4050, ("Oranienstraße", "Kastanienallee", "Torstraße",
         "Bergmannstraße", "Kantstraße", "Weserstraße"), 7),
    City("Madrid", 40.4168, -3.7038, ("Calle de la Cava Baja", "Calle de Fuencarral",
         "Calle de Ponzano", "Calle del Pez", "Calle de Lavapiés", "Gran Vía"), 6),
    City("Rome", 41.9028, 12.4964, ("Via del Governo Vecchio", "Via dei Coronari",
         "Via della Lungaretta", "Via del Pigneto", "Via Marmorata", "Via Cavour"), 6),
    City("Barcelona", 41.3874, 2.1686, ("Carrer de Blai", "Carrer del Parlament",
         "Passeig de Gràcia", "Carrer de Verdi", "Carrer de la Princesa", "Rambla del Raval"), 6),
    City("Amsterdam", 52.3676, 4.9041, ("Haarlemmerstraat", "Utrechtsestraat", "Albert Cuypstraat",
         "Westerstraat", "Ferdinand Bolstraat", "Javastraat"), 5),
    City("Tokyo", 35.6762, 139.6503, ("Omoide Yokocho", "Kagurazaka-dori", "Nakameguro-dori",
         "Shimokitazawa-dori", "Ebisu-nishi", "Ginza-dori"), 8),
    City("Bangkok", 13.7563, 100.5018, ("Sukhumvit Road", "Yaowarat Road", "Charoen Krung Road",
         "Phra Athit Road", "Silom Road", "Ari Samphan"), 6),
    City("Mexico City", 19.4326, -99.1332, ("Avenida Álvaro Obregón", "Calle Colima",
         "Avenida Amsterdam", "Calle Regina", "Avenida Michoacán", "Calle Durango"), 6),
    City("San Francisco", 37.7749, -122.4194, ("Valencia Street", "Clement Street",
         "Hayes Street", "Columbus Avenue", "Divisadero Street", "24th Street"), 5),
    City("Chicago", 41.8781, -87.6298, ("Randolph Street", "Milwaukee Avenue", "Argyle Street",
         "Halsted Street", "Division Street", "Clark Street"), 5),
    City("Toronto", 43.6532, -79.3832, ("Ossington Avenue", "Queen Street West", "Dundas Street",
         "Spadina Avenue", "College Street", "Gerrard Street East"), 4),
    City("Sydney", -33.8688, 151.2093, ("Crown Street", "King Street", "Oxford Street",
         "Darlinghurst Road", "Glebe Point Road", "Bondi Road"), 4),
    City("Melbourne", -37.8136, 144.9631, ("Flinders Lane", "Brunswick Street", "Lygon Street",
         "Chapel Street", "Smith Street", "Hardware Lane"), 4),
    City("Istanbul", 41.0082, 28.9784, ("İstiklal Caddesi", "Kadıköy Moda Caddesi",
         "Bağdat Caddesi", "Nevizade Sokak", "Cihangir Caddesi", "Fevzi Paşa Caddesi"), 5),
    City("Seoul", 37.5665, 126.9780, ("Insadong-gil", "Garosu-gil", "Itaewon-ro",
         "Yeonnam-ro", "Euljiro", "Seongsu-ro"), 5),
    City("Mumbai", 19.0760, 72.8777, ("Colaba Causeway", "Linking Road", "Mohammed Ali Road",
         "Hill Road", "Carter Road", "Kala Ghoda"), 5),
    City("Copenhagen", 55.6761, 12.5683, ("Jægersborggade", "Istedgade", "Værnedamsvej",
         "Nørrebrogade", "Strandgade", "Elmegade"), 3),
    City("Vienna", 48.2082, 16.3738, ("Naschmarkt", "Gumpendorfer Straße", "Neubaugasse",
         "Praterstraße", "Kettenbrückengasse", "Josefstädter Straße"), 3),
    City("Buenos Aires", -34.6037, -58.3816, ("Avenida Corrientes", "Calle Thames",
         "Calle Defensa", "Avenida Santa Fe", "Calle Gorriti", "Calle Honduras"), 4),
    City("Singapore", 1.3521, 103.8198, ("Amoy Street", "Keong Saik Road", "Tanjong Pagar Road",
         "Joo Chiat Road", "Haji Lane", "Club Street"), 4),
)


@dataclass(frozen=True)
class Cuisine:
    slug: str
    prefixes: tuple[str, ...]
    nouns: tuple[str, ...]
    dishes: tuple[str, ...]
    weight: int


CUISINES: tuple[Cuisine, ...] = (
    Cuisine("italian", ("Trattoria", "Osteria", "Pizzeria", "Da"), ("Marco", "Nonna Rosa",
            "Luigi", "Vesuvio", "Giardino", "Sorrento"),
            ("cacio e pepe", "margherita", "tiramisu", "burrata", "ossobuco", "carbonara"), 10),
    Cuisine("japanese", ("Sushi", "Izakaya", "Ramen", "Kissa"), ("Kaze", "Hana", "Tsuki",
            "Ichiban", "Sakura", "Yuzu"),
            ("tonkotsu ramen", "omakase", "gyoza", "karaage", "nigiri", "katsu sando"), 8),
    Cuisine("thai", ("Baan", "Krua", "Siam", "Thai"), ("Orchid", "Lotus", "Chili", "Basil",
            "Elephant", "Mango Tree"),
            ("pad kra pao", "green curry", "som tam", "khao soi", "pad thai", "larb"), 8),
    Cuisine("mexican", ("Taquería", "Cantina", "Casa", "El"), ("Lupita", "Los Compadres",
            "Frida", "Nopal", "Maíz", "Oaxaca"),
            ("tacos al pastor", "mole negro", "birria", "guacamole", "tlayuda", "elote"), 7),
    Cuisine("indian", ("Tandoor", "Masala", "The", "Royal"), ("Spice Route", "Bombay",
            "Saffron", "Chutney", "Punjab House", "Dosa Hut"),
            ("butter chicken", "masala dosa", "lamb rogan josh", "dal makhani", "biryani",
             "garlic naan"), 7),
    Cuisine("french", ("Le", "La", "Bistrot", "Chez"), ("Petit Zinc", "Comptoir", "Marcel",
            "Cocotte", "Bouchon", "Jardin"),
            ("steak frites", "duck confit", "soupe à l'oignon", "crème brûlée", "escargots",
             "boeuf bourguignon"), 6),
    Cuisine("chinese", ("Golden", "Jade", "Dragon", "Lucky"), ("Palace", "Dumpling House",
            "Garden", "Noodle Bar", "Wok", "Pavilion"),
            ("xiaolongbao", "mapo tofu", "peking duck", "char siu", "dan dan noodles",
             "har gow"), 7),
    Cuisine("korean", ("Seoul", "Han", "Bap", "K-"), ("Kitchen", "Grill", "Pocha", "Table",
            "Bowl", "House"),
            ("bibimbap", "kimchi jjigae", "bulgogi", "tteokbokki", "fried chicken", "japchae"), 5),
    Cuisine("vietnamese", ("Pho", "Banh Mi", "Little", "Saigon"), ("Hanoi", "Lotus",
            "Corner", "Mekong", "Street", "Kitchen"),
            ("pho bo", "banh mi", "bun cha", "summer rolls", "com tam", "banh xeo"), 5),
    Cuisine("greek", ("Taverna", "Kouzina", "The", "Little"), ("Olive", "Santorini", "Athena",
            "Mykonos", "Agora", "Meze"),
            ("souvlaki", "moussaka", "grilled octopus", "spanakopita", "tzatziki",
             "horiatiki"), 4),
    Cuisine("lebanese", ("Beit", "Al", "Cedar", "Zaatar"), ("Beirut", "Mezze", "Cedars",
            "Byblos", "Levant", "Grill"),
            ("hummus", "falafel", "shawarma", "tabbouleh", "kibbeh", "manakish"), 4),
    Cuisine("spanish", ("Bar", "Taberna", "Casa", "El Rincón de"), ("Pepe", "La Bodega",
            "Jamón", "Tapas", "Sevilla", "Sol"),
            ("patatas bravas", "jamón ibérico", "paella", "croquetas", "tortilla",
             "pulpo a la gallega"), 5),
    Cuisine("turkish", ("Ocakbaşı", "Kebap", "Lokanta", "Sofra"), ("Anatolia", "Bosphorus",
            "Istanbul", "Galata", "Ottoman", "Meyhane"),
            ("adana kebab", "lahmacun", "pide", "iskender", "mantı", "baklava"), 4),
    Cuisine("ethiopian", ("Addis", "Habesha", "Lalibela", "Queen of"), ("Kitchen", "Injera",
            "House", "Sheba", "Taste", "Table"),
            ("doro wat", "kitfo", "shiro", "injera platter", "tibs", "misir wat"), 2),
    Cuisine("american", ("The", "Big", "Smoky", "Blue Plate"), ("Burger Joint", "Diner",
            "Smokehouse", "Grill", "Kitchen", "Tavern"),
            ("smash burger", "brisket", "mac and cheese", "buffalo wings", "pancakes",
             "apple pie"), 6),
    Cuisine("portuguese", ("Tasca", "Casa", "O", "Cervejaria"), ("do Bairro", "Bacalhau",
            "Ribeira", "Sardinha", "Alfama", "Galo"),
            ("bacalhau à brás", "grilled sardines", "pastel de nata", "bifana", "polvo",
             "arroz de marisco"), 3),
    Cuisine("peruvian", ("Cevichería", "Inca", "Pisco", "Casa"), ("Lima", "Andes", "Nazca",
            "Miraflores", "Amaru", "Chalaca"),
            ("ceviche", "lomo saltado", "causa", "anticuchos", "ají de gallina",
             "pisco sour"), 3),
    Cuisine("georgian", ("Supra", "Tbilisi", "Khachapuri", "Mtskheta"), ("House", "Kitchen",
            "Cellar", "Table", "Garden", "Tone"),
            ("khachapuri", "khinkali", "pkhali", "badrijani", "chakapuli", "churchkhela"), 2),
    Cuisine("moroccan", ("Dar", "Riad", "Café", "Le"), ("Marrakech", "Fez", "Atlas",
            "Medina", "Tagine", "Casbah"),
            ("lamb tagine", "couscous", "pastilla", "harira", "zaalouk", "mint tea"), 2),
    Cuisine("brazilian", ("Churrascaria", "Boteco", "Casa", "Sabor"), ("Rio", "Bahia",
            "Copacabana", "Minas", "Pampa", "Carioca"),
            ("picanha", "feijoada", "pão de queijo", "moqueca", "coxinha", "açaí bowl"), 2),
)

FIRST_NAMES = (
    "Ana", "Ben", "Chloé", "Daniel", "Elena", "Farid", "Grace", "Hiro", "Inès", "Jonas", "Kavya",
    "Liam", "Maya", "Noah", "Olga", "Pedro", "Qiu", "Rosa", "Samir", "Tara", "Umar", "Vera",
    "Wei", "Ximena", "Yusuf", "Zoe", "Aisha", "Bruno", "Camille", "Dmitri", "Emma", "Felix",
    "Giulia", "Hannah", "Ivan", "Julia", "Kenji", "Lucía", "Mateo", "Nina", "Oscar", "Priya",
)
LAST_NAMES = (
    "Silva", "Müller", "Rossi", "Tanaka", "Kim", "Nguyen", "García", "Dubois", "Smith", "Novak",
    "Kowalski", "Haddad", "Okafor", "Johansson", "Papadopoulos", "Yılmaz", "Patel", "Chen",
    "Costa", "Jensen", "Moreau", "Fischer", "López", "Sato", "Ivanova", "Murphy", "Santos",
)

# Review text: an opener by sentiment, a sentence about a dish, one about the place, a closer.
OPENERS = {
    1: ("Really disappointing.", "Not again, sadly.", "I wanted to like this place."),
    2: ("Underwhelming overall.", "Mixed feelings about this one.", "Had higher hopes."),
    3: ("Decent, nothing special.", "A solid neighbourhood spot.", "Fine for a quick meal."),
    4: ("Very good evening.", "Lovely place, we will be back.", "Really enjoyed it."),
    5: ("Outstanding.", "One of the best meals I have had this year.", "An absolute gem."),
}
DISH_LINES = {
    1: ("The {dish} was cold and bland.", "The {dish} tasted like it had been reheated."),
    2: ("The {dish} was okay but lacked seasoning.", "The {dish} was smaller than expected."),
    3: ("The {dish} was good, if a little safe.", "We shared the {dish}; it did the job."),
    4: ("The {dish} was excellent.", "Try the {dish}: generous and full of flavour."),
    5: ("The {dish} is the best I have had in {city}.", "The {dish} alone is worth the trip."),
}
PLACE_LINES = {
    1: ("Service was slow and nobody checked on us.", "Far too loud to hold a conversation."),
    2: ("Staff were friendly but overwhelmed.", "Prices feel high for what you get."),
    3: ("Service was quick and polite.", "The room is a bit cramped but cosy."),
    4: ("Friendly staff and a relaxed room.", "Good wine list and fair prices."),
    5: ("Warm, attentive service from start to finish.", "Every detail is thought through."),
}
CLOSERS = {
    1: ("Would not recommend.", "Skip it."),
    2: ("Maybe on a quieter night.", "Might give it another try."),
    3: ("Worth it if you are nearby.", "Good value for {city}."),
    4: ("Recommended.", "Book ahead at weekends."),
    5: ("Go.", "Already planning the next visit."),
}
