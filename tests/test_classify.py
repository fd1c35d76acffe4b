from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from monitor.classify import (
    Classification,
    LexiconClassifier,
    LexiconError,
    classification_to_dict,
    format_classification,
    load_classifier,
)
from monitor.classify.layout import compile_markers, tail_start
from monitor.classify.lexicon import default_lexicon_path
from monitor.classify.normalize import fold

ROOT = Path(__file__).resolve().parents[1]
SEEDS = sorted((ROOT / "tests" / "data" / "seeds").glob("*.txt"))


@pytest.fixture(scope="module")
def clf() -> LexiconClassifier:
    return load_classifier()


def oic_terms(c: Classification) -> list[str]:
    return [e.term for e in c.evidence if e.concept.startswith("oic.")]


# --- seeds -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.name[:3])
def test_seed_articles_are_relevant_with_oic_evidence(clf: LexiconClassifier, seed: Path) -> None:
    c = clf.classify(None, seed.read_text(encoding="utf-8"))
    assert c.tier == "relevant"
    assert c.relevance >= 0.5
    assert oic_terms(c), c.evidence
    for e in c.evidence:
        assert e.where in ("title", "lead", "body")
        assert e.term in e.snippet
        assert e.weight > 0


def test_seed_evidence_names_the_terms_in_the_text(clf: LexiconClassifier) -> None:
    by_seed = {p.name[:3]: clf.classify(None, p.read_text(encoding="utf-8")) for p in SEEDS}
    assert "Организации исламского сотрудничества" in oic_terms(by_seed["000"])
    assert "СМИД ОИС" in oic_terms(by_seed["002"])
    assert {"ИЫҰ-ның", "ИЫҰ-ға"} <= set(oic_terms(by_seed["003"]))
    assert "Organisation de la coopération islamique" in oic_terms(by_seed["004"])


# --- every language, including Turkic suffixes -----------------------------------------

SMOKE = [
    (
        "ru",
        "Генсек ОИС прибыл в Астану",
        "Генеральный секретарь Организации исламского "
        "сотрудничества обсудил с президентом сотрудничество с Организацией.",
    ),
    (
        "ru",
        "Казахстан в Организации Исламская конференция",
        "В 1995 году Казахстан вступил в "
        "Организацию Исламская конференция (ОИК), ныне Организацию исламского сотрудничества.",
    ),
    (
        "kk",
        "ИЫҰ-ның отырысы",
        "Қазақстан ИЫҰ-ның отырысына қатысты. ИЫҰ-ға мүше елдер "
        "Ислам ынтымақтастығы ұйымының жоспарын бекітті.",
    ),
    (
        "ky",
        "ИКУнун жыйыны Бишкекте",
        "Ислам кызматташтык уюмунун жыйыны өттү. ИКУнун катчылыгы жыйынтыктарды жарыялады.",
    ),
    (
        "uz",
        "IHTning Bosh kotibi Toshkentda",
        "Islom hamkorlik tashkilotining Bosh kotibi Prezident bilan uchrashdi.",
    ),
    (
        "uz",
        "ИҲТ йиғилиши",
        "Ислом ҳамкорлик ташкилотининг йиғилишида Ўзбекистон вакили сўзга чиқди.",
    ),
    (
        "tg",
        "Дабири кулли СҲИ ба Душанбе омад",
        "Созмони ҳамкории исломӣ ҳамкориро бо Тоҷикистон васеъ мекунад.",
    ),
    (
        "tk",
        "YHG-nyň mejlisi",
        "Yslam Hyzmatdaşlyk Guramasynyň mejlisinde Türkmenistanyň wekili çykyş etdi.",
    ),
    (
        "az",
        "İƏT-in Baş katibi Bakıda",
        "İslam Əməkdaşlıq Təşkilatının Baş katibi Prezident tərəfindən qəbul edilib.",
    ),
    (
        "tr",
        "İİT'nin olağanüstü toplantısı",
        "İslam İşbirliği Teşkilatı'nın Cidde'deki toplantısında Filistin ele alındı.",
    ),
    (
        "tr",
        "İSLAM İŞBİRLİĞİ TEŞKİLATI ZİRVESİ",
        "Liderler İİT zirvesinde ortak bildiri kabul etti.",
    ),
    (
        "ar",
        "منظمة التعاون الإسلامي تدين الهجوم",
        "أدانت منظمة التعاون الإسلامي الهجوم، "
        "ودعا الأمين العام لمنظمة التعاون الإسلامي إلى التهدئة.",
    ),
    (
        "ar",
        "الأمين العام للتعاون الإسلامي يزور أستانا",
        "وبحث الأمين العام مع الرئيس دور المنظمة في آسيا الوسطى.",
    ),
    (
        "fa",
        "سازمان همکاری اسلامی نشست فوق‌العاده برگزار می‌کند",
        "دبیرکل سازمان همکاری‌های اسلامی از برگزاری نشست در جده خبر داد.",
    ),
    (
        "fr",
        "L'OCI condamne l'attaque",
        "L'Organisation de la coopération islamique a condamné l'attaque et appelé au calme.",
    ),
    (
        "en",
        "OIC foreign ministers meet",
        "Foreign ministers of the Organisation of Islamic Cooperation met in Jeddah.",
    ),
]


@pytest.mark.parametrize(("lang", "title", "text"), SMOKE, ids=[s[0] for s in SMOKE])
def test_each_language_is_found(clf: LexiconClassifier, lang: str, title: str, text: str) -> None:
    c = clf.classify(title, text, lang)
    assert c.tier == "relevant", format_classification(c)
    assert any(e.where == "title" for e in c.evidence)


def test_passing_mention_in_a_long_body_is_a_mention(clf: LexiconClassifier) -> None:
    filler = "Правительство обсудило ремонт дорог и строительство логистических центров. " * 12
    text = filler + "Казахстан работает и в Организации исламского сотрудничества. " + filler
    assert clf.classify("Дороги", text).tier == "mention"


def test_affiliated_institution_alone_is_at_most_a_mention(clf: LexiconClassifier) -> None:
    c = clf.classify(
        "Islamic Development Bank lends $60m to Tajikistan",
        "The Islamic Development Bank approved a loan. IsDB said the Islamic Development Bank "
        "would fund schools. The IsDB board met in Jeddah.",
    )
    assert c.tier == "mention"


# --- confusers ---------------------------------------------------------------------------

CONFUSERS = [
    (
        "ru",
        "Регистрация ОИС упрощена",
        "Роспатент упростил учет объектов интеллектуальной "
        "собственности (ОИС). Вузы получили патенты на ОИС.",
    ),
    (
        "ru",
        "ОИК №4 зарегистрировала кандидатов",
        "Окружная избирательная комиссия №4 "
        "зарегистрировала кандидатов в депутаты. В ОИК поступило 10 заявлений.",
    ),
    (
        "ru",
        "Лавров принял участие в СМИД СНГ",
        "Совет министров иностранных дел СНГ обсудил подготовку к саммиту Содружества.",
    ),
    ("ru", "СМИД ШОС в Астане", "На СМИД ШОС министры приняли коммюнике."),
    ("ru", "Заседание СМИД ОДКБ", "СМИД ОДКБ принял заявление о безопасности границ."),
    (
        "en",
        "New OIC at city hall",
        "The officer in charge (OIC) of the city took his oath. The OIC promised reforms.",
    ),
    (
        "en",
        "OIC Group buys hotel",
        "OIC Group, an investment firm, bought a hotel. OIC said the deal closes in May.",
    ),
    (
        "en",
        "Oracle opens OCI region",
        "Oracle opened a new Oracle Cloud Infrastructure (OCI) region. OCI offers cloud services.",
    ),
    (
        "en",
        "India changes OCI rules",
        "Holders of Overseas Citizenship of India (OCI) cards "
        "must renew them. OCI cardholders were notified.",
    ),
    (
        "en",
        "Islamic banking conference opens",
        "An Islamic finance conference discussed sukuk and takaful in Kuala Lumpur.",
    ),
    (
        "tr",
        "IIT Delhi burs veriyor",
        "Hindistan'daki IIT Delhi yeni burs açtı. IIT yönetimi açıklama yaptı.",
    ),
    (
        "fr",
        "L'OIC prévoit un déficit de café",
        "Selon l'Organisation internationale du café "
        "(OIC), la récolte baisse. L'OIC publie son rapport.",
    ),
]


@pytest.mark.parametrize(("lang", "title", "text"), CONFUSERS, ids=[c[1][:24] for c in CONFUSERS])
def test_confusers_stay_none(clf: LexiconClassifier, lang: str, title: str, text: str) -> None:
    c = clf.classify(title, text, lang)
    assert c.tier == "none", format_classification(c)


@pytest.mark.parametrize(
    ("title", "text"),
    [
        ("YHG-nyň sammiti", "Ykdysady Hyzmatdaşlyk Guramasynyň (YHG) sammiti geçirildi."),
        ("IHT sammiti", "Iqtisodiy hamkorlik tashkiloti (IHT) sammiti o‘tdi. IHT a’zolari."),
        ("İƏT sammiti", "İqtisadi Əməkdaşlıq Təşkilatının (İƏT) sammiti keçirilib."),
        ("Саммити СҲИ", "Созмони ҳамкории иқтисодӣ (СҲИ) саммит баргузор кард."),
    ],
)
def test_economic_cooperation_organization_abbreviations_are_not_the_oic(
    clf: LexiconClassifier, title: str, text: str
) -> None:
    assert clf.classify(title, text).tier == "none"


def test_other_meaning_is_explained_in_notes(clf: LexiconClassifier) -> None:
    c = clf.classify("ОИС на балансе", "Объекты интеллектуальной собственности (ОИС) и ОИС.")
    [note] = [n for n in c.notes if "oic.abbreviation.ois" in n]
    assert "«ОИС»" in note and "интеллектуальной собственности" in note


@pytest.mark.parametrize(
    "text",
    [
        "The OIC mayor of Tacloban opened the new market on Monday.",
        "Police: the OIC of the unit said the case is closed.",
    ],
)
def test_a_term_inside_a_phrase_of_its_other_meaning_is_named_in_the_notes(
    clf: LexiconClassifier, text: str
) -> None:
    c = clf.classify(None, text)
    assert c.tier == "none" and not c.evidence
    assert any("«OIC»" in n and "other.officer_in_charge" in n for n in c.notes), c.notes
    shown = format_classification(c)
    assert "note: «OIC»" in shown and "no topic terms found" not in shown


def test_no_notes_and_no_evidence_says_no_topic_terms(clf: LexiconClassifier) -> None:
    c = clf.classify(None, "Muslim pilgrims arrived in Jeddah for the season.")
    assert not c.evidence and not c.notes
    assert "no topic terms found" in format_classification(c)


def test_most_read_tail_does_not_make_an_article_relevant(clf: LexiconClassifier) -> None:
    body = "The UN General Assembly adopted a resolution on mountain ecosystems. " * 6
    tail = "\nMost read\nOIC condemns attack\nOIC Secretary-General visits Baku\nGold prices\n"
    c = clf.classify("UN adopts resolution", body + tail)
    assert c.tier == "none"
    assert all(e.tail for e in c.evidence)


def test_headline_block_without_marker_is_a_tail(clf: LexiconClassifier) -> None:
    body = "Правительство обсудило ремонт дорог и строительство логистических центров. " * 5
    tail = "\nСМИД ОИС открылся в Яунде\nГенсек ОИС посетил Астану\nОИС осудила нападение\n"
    c = clf.classify("Дороги", body + tail)
    assert c.tier != "relevant"
    assert tail_start(fold(body + tail).text, None) > len(body) - 2


# --- evidence and formatting -------------------------------------------------------------


def test_evidence_has_where_and_snippet(clf: LexiconClassifier) -> None:
    lead = "Организация исламского сотрудничества провела заседание. "
    body = "Делегации обсуждали повестку дня и процедурные вопросы. " * 10
    c = clf.classify("Генсек ОИС в Джидде", lead + body + "Итоги подвела ОИС.")
    wheres = {e.where for e in c.evidence}
    assert wheres == {"title", "lead", "body"}
    body_ev = [e for e in c.evidence if e.where == "body"][0]
    assert body_ev.term == "ОИС" and body_ev.snippet.endswith("Итоги подвела ОИС.")
    text = format_classification(c)
    assert text.startswith("relevant")
    data = classification_to_dict(c)
    assert data["tier"] == "relevant" and data["lexicon_version"] == c.lexicon_version
    assert isinstance(data["evidence"], list) and data["evidence"][0]["where"] == "title"
    assert "«Генсек ОИС»" in text and "Итоги подвела ОИС." in text


@pytest.mark.parametrize("left, right", [("«", "»"), ("“", "”"), ("„", "“"), ('"', '"')])
def test_quotes_between_the_words_of_a_name(clf: LexiconClassifier, left: str, right: str) -> None:
    name = f"Организация {left}Исламского сотрудничества{right}"
    c = clf.classify(None, f"Министры стран {name} встретились в Джидде.")
    assert oic_terms(c) == [f"Организация {left}Исламского сотрудничества"]
    assert name in c.evidence[0].snippet  # quoted as written, not as the matcher reads it


@pytest.mark.parametrize("left, right", [("«", "»"), ("“", "”"), ("„", "“")])
def test_a_name_and_its_abbreviation_score_alike_in_any_quotes(
    clf: LexiconClassifier, left: str, right: str
) -> None:
    def sentence(lq: str, rq: str) -> str:
        return f"Министры {lq}Организации исламского сотрудничества{rq} ({lq}ОИС{rq}) встретились."

    quoted, plain = (
        clf.classify(None, sentence(left, right)),
        clf.classify(None, sentence('"', '"')),
    )
    assert [e.term for e in quoted.evidence] == [e.term for e in plain.evidence]
    assert quoted.relevance == plain.relevance


def test_abbreviation_inside_another_abbreviation_is_ignored(clf: LexiconClassifier) -> None:
    c = clf.classify("ОИСТ и ВОИС", "Организация ВОИС и фонд ОИСТ провели встречу в Женеве.")
    assert c.tier == "none" and not c.evidence


# --- normalisation ------------------------------------------------------------------------


def test_fold_handles_turkish_i_persian_letters_and_zwnj() -> None:
    assert fold("İİT'nin").text == "iit'nin"
    assert fold("ISLAM İŞBİRLİĞİ").text == "islam isbirligi"
    assert fold("كشورهاي").text == fold("کشورهای").text
    folded = fold("همکاری‌های اسلامی")
    assert folded.text == "همکاریهای اسلامی"
    assert folded.original[folded.original_offset(10)] == folded.text[10]
    assert fold("O‘zbekiston – O’zbekiston").text == "o'zbekiston - o'zbekiston"


# --- lexicons ------------------------------------------------------------------------------


def test_version_is_a_short_stable_hash(clf: LexiconClassifier) -> None:
    assert len(clf.version) == 12
    assert load_classifier().version == clf.version
    assert clf.classify("ОИС", "ОИС").lexicon_version == clf.version


def test_classifier_pickles_for_a_process_pool(clf: LexiconClassifier) -> None:
    copy = pickle.loads(pickle.dumps(clf))
    assert copy.version == clf.version
    assert copy.classify(None, SEEDS[0].read_text(encoding="utf-8")).tier == "relevant"


def test_default_lexicon_ships_inside_the_package() -> None:
    path = default_lexicon_path()
    assert path.is_file() and path.parts[-3:] == ("classify", "lexicons", "oic.toml")


TINY = """
[topic]
id = "coffee"
name = "Coffee"

[[concept]]
id = "coffee.name"
role = "core"
[concept.terms]
en = ["international coffee organi*"]
ru = ["международн* организаци* по кофе"]

[[concept]]
id = "coffee.abbr"
role = "ambiguous"
exact_case = true
voided_by = ["other.islamic"]
[concept.terms]
en = ["ICO"]

[[concept]]
id = "other.islamic"
role = "counter"
[concept.terms]
en = ["islamic"]
"""


def test_custom_topic_lexicon(tmp_path: Path) -> None:
    path = tmp_path / "coffee.toml"
    path.write_text(TINY, encoding="utf-8")
    clf = load_classifier(path)
    assert clf.topic == "coffee"
    hit = clf.classify("International Coffee Organization cuts forecast", "The ICO said so.")
    assert hit.tier == "relevant"
    assert {e.concept for e in hit.evidence} == {"coffee.name", "coffee.abbr"}
    assert clf.classify("Международная организация по кофе", "").tier == "relevant"
    assert clf.classify("OIC summit", "Islamic Cooperation").tier == "none"
    path.write_text(TINY.replace("cuts", "x") + "\n# changed\n", encoding="utf-8")
    assert load_classifier(path).version != clf.version


def test_example_lexicon_in_config_loads() -> None:
    clf = load_classifier(ROOT / "config" / "lexicons" / "example_cica.toml")
    assert clf.classify("Саммит СВМДА в Астане", "").tier == "relevant"


@pytest.mark.parametrize(
    ("broken", "names"),
    [
        (TINY.replace('role = "ambiguous"', 'role = "maybe"'), ["coffee.abbr", "maybe"]),
        (TINY.replace('en = ["ICO"]', 'en = ["I CO"]'), ["coffee.abbr", "I CO"]),
        (
            TINY.replace('"international coffee organi*"', '"[the] coffee"'),
            ["coffee.name", "[the]"],
        ),
        (TINY.replace('"international coffee organi*"', '"coff*ee"'), ["coffee.name", "coff*ee"]),
        (TINY.replace('voided_by = ["other.islamic"]', 'voided_by = ["nope"]'), ["nope"]),
        (TINY.replace('role = "core"', 'role = "core"\nwieght = 2'), ["coffee.name", "wieght"]),
        (TINY.replace("[topic]", "[topic"), ["not valid TOML"]),
    ],
)
def test_bad_lexicon_names_file_and_entry(tmp_path: Path, broken: str, names: list[str]) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(LexiconError) as err:
        load_classifier(path)
    message = str(err.value)
    assert str(path) in message
    for name in names:
        assert name in message


def test_missing_lexicon_file_is_a_lexicon_error(tmp_path: Path) -> None:
    with pytest.raises(LexiconError, match="missing.toml"):
        load_classifier(tmp_path / "missing.toml")


# --- passing mentions: an ambiguous abbreviation beside other bodies or diplomats ---------

PASSING_MENTIONS = [
    (
        "en",
        "Nigeria and Senegal sign a fisheries accord",
        "The two fisheries ministers signed a five-year accord in Abuja. They pledged to speak "
        "with one voice at the United Nations, in the African Union and in the OIC.",
    ),
    (
        "en",
        "Jordan's foreign minister tours Central Asia",
        "The foreign minister opened a consulate in Almaty and discussed wheat imports. He "
        "thanked Kazakhstan for its support in the OIC.",
    ),
    (
        "fr",
        "Le Niger et le Tchad relancent leur commission mixte",
        "Les deux gouvernements ont discuté du commerce transfrontalier et de l'élevage. Ils "
        "veulent aussi harmoniser leurs positions aux Nations unies et à l'OCI.",
    ),
    (
        "fr",
        "Le chef de la diplomatie sénégalaise à Nouakchott",
        "Le ministre des Affaires étrangères a parlé d'énergie et de pêche, puis des travaux "
        "de la Ligue arabe et de l'OCI.",
    ),
    (
        "ru",
        "Ташкент и Каир подписали меморандум",
        "Стороны договорились о прямых рейсах и поставках хлопка. Министры также условились "
        "согласовывать позиции в Организации Объединённых Наций и ОИС.",
    ),
    (
        "ru",
        "Глава МИД Киргизии посетил Анкару",
        "Министр иностранных дел обсудил с турецким коллегой транзит грузов и образование. "
        "Отдельно затронули работу в ОИС.",
    ),
    (
        "az",
        "Bakı və Islamabad nəqliyyat sazişi imzalayıb",
        "Nazirlər yük daşımalarının artırılmasını müzakirə ediblər. Tərəflər BMT və İƏT "
        "çərçivəsində bir-birini dəstəkləməyə razılaşıblar.",
    ),
    (
        "az",
        "Azərbaycan və Qazaxıstan",
        "Tərəflər Birləşmiş Millətlər Təşkilatı və İƏT kimi qurumlarda əməkdaşlığı davam "
        "etdirəcəklər. Görüşdə enerji layihələri də müzakirə olunub.",
    ),
]


@pytest.mark.parametrize(
    ("lang", "title", "text"), PASSING_MENTIONS, ids=[p[0] for p in PASSING_MENTIONS]
)
def test_abbreviation_among_other_bodies_or_diplomats_is_a_mention(
    clf: LexiconClassifier, lang: str, title: str, text: str
) -> None:
    c = clf.classify(title, text, lang)
    assert c.tier == "mention", format_classification(c)


@pytest.mark.parametrize(
    "text",
    [
        "The OIC said the new rules start next month.",
        "L'OCI a publié son rapport annuel.",
        "В докладе ОИС названы новые цифры.",
        "İƏT yeni hesabat dərc edib.",
    ],
)
def test_abbreviation_with_no_support_still_does_not_count(
    clf: LexiconClassifier, text: str
) -> None:
    c = clf.classify(None, text)
    assert c.tier == "none", format_classification(c)
    assert any("nothing else supports it" in n for n in c.notes)


@pytest.mark.parametrize(
    ("title", "text"),
    [
        (
            "New acting mayor sworn in",
            "The officer in charge (OIC) of the city was sworn in; the OIC met United Nations "
            "staff and the foreign minister's envoy.",
        ),
        (
            "Le ministre inaugure un centre Oracle",
            "Le ministre des Affaires étrangères a inauguré une région cloud OCI d'Oracle, "
            "présentée comme un modèle aux Nations unies.",
        ),
        (
            "МИД зарегистрировал ОИС",
            "Министерство иностранных дел поставило на баланс объекты интеллектуальной "
            "собственности (ОИС) и патенты; опыт представят в ООН.",
        ),
        (
            "İƏT-in nazirlər iclası",
            "İqtisadi Əməkdaşlıq Təşkilatının (İƏT) xarici işlər nazirləri BMT və İƏT "
            "arasında tranzit əməkdaşlığını müzakirə ediblər.",
        ),
    ],
)
def test_support_never_outweighs_the_other_meaning(
    clf: LexiconClassifier, title: str, text: str
) -> None:
    c = clf.classify(title, text)
    assert c.tier == "none", format_classification(c)
    assert any("other meaning" in n for n in c.notes)


@pytest.mark.parametrize(
    ("title", "text"),
    [
        (
            "Council of Foreign Ministers meets in Brussels",
            "The Council of Foreign Ministers agreed new sanctions; the foreign minister of "
            "Estonia briefed the United Nations.",
        ),
        ("Контактная группа собралась в Женеве", "Глава МИД Норвегии выступил перед группой."),
    ],
)
def test_generic_organs_need_islamic_context_not_just_diplomats(
    clf: LexiconClassifier, title: str, text: str
) -> None:
    assert clf.classify(title, text).tier == "none"


# --- affiliated institutions in every language ----------------------------------------------

INSTITUTIONS = [
    ("en", "Islamic Conference Youth Forum holds a camp", "Young volunteers met in Baku."),
    ("fr", "Le Forum de la jeunesse de la coopération islamique à Dakar", "Un atelier a eu lieu."),
    ("ru", "Исламский университет технологии принял студентов", "Набор вырос на треть."),
    ("kk", "Ислам азық-түлік қауіпсіздігі ұйымы Астанада жиын өткізді", "Жиынға 30 ел келді."),
    ("ky", "Ислам кызматташтыгы жаштар форуму Ошто семинар өткөрдү", "Семинарга 40 киши келди."),
    ("uz", "Islom birdamlik fondi Xorazmga yordam ajratdi", "Yordam 12 maktabga yetkazildi."),
    ("uz", "Ислом бирдамлик фонди Хоразмга ёрдам ажратди", "Ёрдам 12 мактабга етказилди."),
    ("tg", "Форуми ҷавонони ҳамкории исломӣ дар Хуҷанд", "Дар чорабинӣ 50 нафар ширкат карданд."),
    ("tk", "Yslam Raýdaşlyk Fondy hassahanalara enjam berdi", "Enjamlar Daşoguza ugradyldy."),
    ("az", "İslam Həmrəylik Fondu Gəncədə məktəb tikir", "Məktəb 600 şagird üçündür."),
    ("tr", "İslam Gıda Güvenliği Teşkilatı Astana'da toplandı", "Toplantıya 30 ülke katıldı."),
    ("ar", "منتدى شباب التعاون الإسلامي يطلق مسابقة", "تستهدف المسابقة رواد الأعمال الشباب."),
    ("fa", "مجمع جوانان همکاری اسلامی در باکو نشست برگزار کرد", "این نشست دو روز طول کشید."),
]


@pytest.mark.parametrize(("lang", "title", "text"), INSTITUTIONS, ids=[i[0] for i in INSTITUTIONS])
def test_affiliated_institutions_are_found_in_every_language(
    clf: LexiconClassifier, lang: str, title: str, text: str
) -> None:
    c = clf.classify(title, text, lang)
    assert c.tier == "mention", format_classification(c)
    assert any(e.concept.startswith("oic.institution") for e in c.evidence)


# --- the name in other word orders ---------------------------------------------------------


@pytest.mark.parametrize(
    "title",
    [
        "Islamic Cooperation Organization opens a Gaza relief appeal",
        "Organisation for Islamic Cooperation names a new envoy",
        "Islamic Conference Organisation archives go online",
        "L'Organisation de coopération islamique ouvre un bureau à Niamey",
        "Исламская организация сотрудничества открыла бюро в Алматы",
        "İslam İşbirliği Örgütü Gazze için yardım kampanyası başlattı",
    ],
)
def test_name_in_other_word_orders_is_relevant(clf: LexiconClassifier, title: str) -> None:
    c = clf.classify(title, "")
    assert c.tier == "relevant", format_classification(c)
    assert any(e.concept in ("oic.name", "oic.former_name") for e in c.evidence)


# --- "Most read" headings in every language --------------------------------------------------


@pytest.mark.parametrize(
    "heading",
    [
        "Çok okunanlar:",
        "Самые читаемые",
        "Популярное за неделю",
        "Trending now",
        "Les plus lus",
        "Ең көп оқылғандар",
        "Көп окулгандар",
        "الأكثر قراءة",
        "پربازدیدترین ها",
        "Eng ko‘p o‘qilganlar",
        "Ko'p o'qilganlar",
        "Ən çox oxunanlar",
        "Çox oxunanlar",
        "Köp okalanlar",
        "Серхонандатарин",
    ],
)
def test_most_read_headings_start_the_tail(clf: LexiconClassifier, heading: str) -> None:
    body = "First line of the article.\nThe article body goes on here with some more words.\n"
    text = body + heading + "\nHeadline one\nHeadline two?\n"
    markers = compile_markers(clf.lexicon.tail_markers)
    assert tail_start(fold(text).text, markers) == len(body)


def test_turkish_most_read_block_does_not_make_a_mention(clf: LexiconClassifier) -> None:
    body = (
        "Belediye, kış boyunca otobüs hatlarında sefer sayısını artıracağını açıkladı. "
        "Yeni tarife pazartesi günü başlayacak."
    )
    tail = "\n\nÇok okunanlar:\nİİT Genel Sekreteri Bakü'de\nAltın fiyatları ne olur?\n"
    c = clf.classify("Otobüs seferleri artıyor", body + tail)
    assert c.tier == "none", format_classification(c)
    assert all(e.tail for e in c.evidence)


# --- supported_by in a lexicon ----------------------------------------------------------------

SUPPORTED = (
    TINY
    + """
[[concept]]
id = "context.drinks"
role = "context"
[concept.terms]
en = ["drinks"]

[[concept]]
id = "context.beans"
role = "context"
[concept.terms]
en = ["beans"]
"""
)


def test_supported_by_narrows_which_context_counts(tmp_path: Path) -> None:
    path = tmp_path / "coffee.toml"
    narrowed = SUPPORTED.replace(
        'voided_by = ["other.islamic"]',
        'voided_by = ["other.islamic"]\nsupported_by = ["context.beans"]',
    )
    path.write_text(narrowed, encoding="utf-8")
    clf = load_classifier(path)
    assert clf.classify("ICO report", "The ICO talked about beans.").tier != "none"
    assert clf.classify("ICO report", "The ICO talked about drinks.").tier == "none"
    path.write_text(SUPPORTED, encoding="utf-8")
    assert (
        load_classifier(path).classify("ICO report", "The ICO talked about drinks.").tier != "none"
    )


@pytest.mark.parametrize(
    ("line", "names"),
    [
        ('supported_by = ["nope"]', ["coffee.abbr", "nope"]),
        ('supported_by = ["other.islamic"]', ["coffee.abbr", "not a context"]),
    ],
)
def test_bad_supported_by_names_the_entry(tmp_path: Path, line: str, names: list[str]) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(
        SUPPORTED.replace(
            'voided_by = ["other.islamic"]', f'voided_by = ["other.islamic"]\n{line}'
        ),
        encoding="utf-8",
    )
    with pytest.raises(LexiconError) as err:
        load_classifier(path)
    for name in names:
        assert name in str(err.value)
