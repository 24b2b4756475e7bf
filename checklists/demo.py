"""The demo company's two checklists: a sales script and a support script, in Russian and Uzbek with English."""

from checklists.models import Checklist, ChecklistItem, ChecklistSection
from checklists.services import checklist_publish
from companies.models import Company

# (section, criterion, weight, critical, allow_na, speaker, example phrases)
OPENING = [
    (
        "Открытие / Boshlanish (Opening)",
        "Приветствует клиента / Mijoz bilan salomlashadi (Greets the customer)",
        1,
        False,
        False,
        "operator",
        ["здравствуйте", "добрый день", "assalomu alaykum", "hello", "good morning", "good afternoon"],
    ),
    (
        "Открытие / Boshlanish (Opening)",
        "Называет компанию / Kompaniya nomini aytadi (Says the company name)",
        1,
        False,
        False,
        "operator",
        ["Dialix Market", "Диаликс Маркет"],
    ),
    (
        "Открытие / Boshlanish (Opening)",
        "Представляется по имени / O'zini tanishtiradi (Introduces themself by name)",
        1,
        False,
        False,
        "operator",
        ["меня зовут", "mening ismim", "my name is", "this is"],
    ),
]
CLOSING = [
    (
        "Завершение / Yakun (Closing)",
        "Прощается с клиентом / Mijoz bilan xayrlashadi (Says goodbye)",
        1,
        False,
        False,
        "operator",
        ["до свидания", "всего доброго", "хорошего дня", "xayr", "goodbye", "have a nice day", "have a great day"],
    ),
    (
        "Завершение / Yakun (Closing)",
        "Вежлив, без грубости / Xushmuomala, qo'pollik yo'q (Polite, never rude)",
        2,
        True,
        False,
        "operator",
        [],
    ),
]
SALES = [
    *OPENING,
    (
        "Потребность / Ehtiyoj (Needs)",
        "Спрашивает имя клиента / Mijozning ismini so'raydi (Asks the customer's name)",
        1,
        False,
        False,
        "operator",
        ["как к вам обращаться", "как вас зовут", "ismingiz nima", "may I have your name", "your name please"],
    ),
    (
        "Потребность / Ehtiyoj (Needs)",
        "Предлагает помощь / Yordam taklif qiladi (Offers help)",
        1,
        False,
        False,
        "operator",
        ["чем могу помочь", "qanday yordam bera olaman", "how can I help", "how may I help"],
    ),
    (
        "Сделка / Kelishuv (Deal)",
        "Подтверждает заказ или следующий шаг / Buyurtma yoki keyingi qadamni tasdiqlaydi "
        "(Confirms the order or the next step)",
        2,
        True,
        False,
        "operator",
        ["ваш заказ оформлен", "перезвоним", "buyurtmangiz rasmiylashtirildi", "your order is placed", "call you back"],
    ),
    *CLOSING,
]
SUPPORT = [
    *OPENING,
    (
        "Проблема / Muammo (Problem)",
        "Выясняет суть проблемы / Muammoni aniqlaydi (Finds out what the problem is)",
        2,
        False,
        False,
        "operator",
        ["что случилось", "в чём проблема", "qanday muammo", "what seems to be the problem", "what happened"],
    ),
    (
        "Проблема / Muammo (Problem)",
        "Извиняется за неудобства / Noqulaylik uchun uzr so'raydi (Apologises for the inconvenience)",
        1,
        False,
        True,
        "operator",
        ["извините за неудобства", "приношу извинения", "uzr so'raymiz", "I'm sorry", "we apologise"],
    ),
    (
        "Решение / Yechim (Resolution)",
        "Предлагает решение или срок / Yechim yoki muddat taklif qiladi (Offers a solution or a deadline)",
        2,
        True,
        False,
        "operator",
        ["мы заменим", "в течение", "вернём деньги", "almashtirib beramiz", "we will replace", "within"],
    ),
    *CLOSING,
]


def demo_checklists(company: Company) -> list[Checklist]:
    """Creates (or leaves alone, if present) the two demo checklists and publishes their first versions."""
    made = []
    for name, directions, rows in (
        ("Sales script / Savdo skripti", [], SALES),
        ("Support script / Qo'llab-quvvatlash skripti", ["inbound"], SUPPORT),
    ):
        checklist, created = Checklist.objects.get_or_create(
            company=company, name=name, defaults={"directions": directions}
        )
        if created:
            sections: dict[str, ChecklistSection] = {}
            for order, (section, criterion, weight, critical, allow_na, speaker, examples) in enumerate(rows):
                if section not in sections:
                    sections[section] = ChecklistSection.objects.create(
                        company=company, checklist=checklist, title=section, order=len(sections)
                    )
                ChecklistItem.objects.create(
                    company=company,
                    checklist=checklist,
                    section=sections[section],
                    criterion=criterion,
                    weight=weight,
                    is_critical=critical,
                    allow_na=allow_na,
                    speaker=speaker,
                    example_phrases="\n".join(examples),
                    order=order,
                )
        checklist_publish(checklist=checklist)
        made.append(checklist)
    return made
