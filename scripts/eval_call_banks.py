"""Phrase banks for scripts/make_eval_calls.py: how operators and customers say each step of a call, per language.

Written as a call-centre trainer would list them (several ordinary phrasings per step), independently of the offline
analyser's rule lists. The analyser never imports this file; the evaluation set it produces is for measuring only.
"""

from __future__ import annotations

# {company}, {op}, {cust} are filled in per call. Each list is a set of alternatives; the generator picks one with a
# PRNG seeded by the call id.

GENERIC = {
    "en": {
        "open_full": [
            "Good morning, {company}, my name is {op}. How can I help you today?",
            "Hello and thank you for calling {company}. This is {op}, what can I do for you?",
            "{company}, good afternoon, {op} speaking.",
            "Hi there, you've reached {company}, I'm {op}. How may I help?",
        ],
        "open_company": [
            "Good afternoon, {company}. How can I help?",
            "Hello, {company} customer service.",
            "Thanks for calling {company}, go ahead please.",
        ],
        "open_plain": ["Hello?", "Yes, hello.", "Hi, go ahead."],
        "open_rude": ["Yeah, what is it?", "Speaking. What do you want?", "Yes? Make it quick."],
        "out_full": [
            "Good afternoon, is this {cust}? My name is {op}, I'm calling from {company}.",
            "Hello {cust}, this is {op} from {company}. Have you got a minute?",
            "Hi, am I speaking with {cust}? It's {op} calling on behalf of {company}.",
        ],
        "out_company": [
            "Hello, is this {cust}? I'm calling from {company}.",
            "Good morning, {company} here, am I speaking with {cust}?",
        ],
        "out_plain": ["Hello, {cust}? I have a quick question for you.", "Hi, is that {cust}?"],
        "cust_hello_back": ["Yes, speaking.", "Yes, that's me.", "Hello. Yes, go on."],
        "apology": [
            "I'm really sorry about that.",
            "I do apologise for the trouble.",
            "Sorry to hear that, that shouldn't have happened.",
            "Please accept our apologies.",
        ],
        "farewell": [
            "Thank you for calling, have a lovely day. Goodbye.",
            "Thanks, {cust}. Bye for now.",
            "You're welcome. Take care, goodbye.",
            "Thank you, have a nice evening.",
        ],
        "no_farewell_end": ["OK.", "Right.", "Fine then."],
        "cust_thanks_warm": [
            "That's brilliant, thank you so much!",
            "Perfect, you've been really helpful, thanks.",
            "Great, I'm really pleased, thanks a lot.",
            "Wonderful, thank you, that's exactly what I needed.",
        ],
        "cust_thanks_plain": ["OK, thanks.", "Alright, thank you.", "Fine, thanks. Bye."],
        "cust_bye": ["Bye.", "Goodbye.", "OK, bye."],
        "cust_angry_end": [
            "This is a joke. I'm really fed up with you people.",
            "Unbelievable. I'll be taking my business elsewhere.",
            "So nobody can help me. Thanks for nothing.",
        ],
        "refuse": [
            "Thanks, but I'm happy with what I have at the moment.",
            "No, I don't think so, it's not for me.",
            "I'll pass, thank you. Not right now.",
            "That's kind of you, but we really don't need it.",
        ],
        "refuse_firm": [
            "Please take my number off your list, I'm not interested.",
            "No. I've told you people before, I don't want it.",
        ],
        "busy": [
            "Sorry, I'm driving at the moment. Could you ring me tomorrow morning?",
            "I'm in a meeting right now, can you try me again after five?",
            "This isn't a good moment, I'm at work. Maybe tomorrow evening?",
        ],
        "busy_ack": [
            "Of course. I'll ring you tomorrow at ten then.",
            "No problem, I'll try you again today after five.",
            "Sure, I'll call you tomorrow around seven in the evening.",
        ],
        "think": [
            "It sounds interesting, but I need to talk it over with my wife first.",
            "Let me think about it. Could you call me back on Friday?",
            "I'd like to check my budget first. Can we speak again next week?",
        ],
        "think_ack": [
            "Absolutely. I'll give you a ring on Friday afternoon, is that alright?",
            "Of course. I'll call you next Tuesday at the same time.",
            "Sure, I've made a note to call you back the day after tomorrow.",
        ],
        "think_ok": ["Yes, that's fine.", "Sounds good.", "OK, talk then."],
        "wrong_in": [
            "Hello, is that the dental clinic? I'd like to book a check-up.",
            "Hi, I'm trying to reach Mister Patel, is he there?",
            "Is this the taxi company? I need a car to the airport.",
        ],
        "wrong_in_reply": [
            "I'm afraid you've dialled the wrong number, this is {company}.",
            "No, sorry, this isn't them. You've reached {company}.",
        ],
        "wrong_in_cust": ["Oh, sorry, my mistake.", "Oops, I must have misdialled. Sorry."],
        "wrong_out_ask": ["Could I speak to Mister Hughes, please?", "Is Anna Brooks available?"],
        "wrong_out_cust": [
            "There's no one here by that name, you've got the wrong number.",
            "Wrong number, mate. Never heard of her.",
        ],
        "wrong_out_sorry": ["Oh, I apologise for the confusion.", "Sorry to have bothered you."],
        "rude_lines": [
            "Look, I haven't got all day.",
            "That's not my department, I can't be bothered chasing it.",
            "I already told you, read the contract.",
            "If you don't like it, go somewhere else.",
        ],
        "escalate_no": [
            "Nobody else is going to tell you anything different.",
            "There's no manager available, and I can't change it.",
        ],
    },
    "ru": {
        "open_full": [
            "Добрый день, компания {company}, меня зовут {op}. Чем могу помочь?",
            "Здравствуйте, {company}, {op}, слушаю вас.",
            "{company}, доброе утро, оператор {op}. Что вас интересует?",
            "Здравствуйте! Вы позвонили в {company}, я {op}. Как я могу вам помочь?",
        ],
        "open_company": [
            "Здравствуйте, {company}, слушаю вас.",
            "Добрый день, {company}. Говорите, пожалуйста.",
            "{company}, добрый вечер.",
        ],
        "open_plain": ["Алло.", "Да, слушаю.", "Алло, говорите."],
        "open_rude": ["Да. Что надо?", "Слушаю. Быстрее, пожалуйста.", "Ну, говорите."],
        "out_full": [
            "Добрый день, это {cust}? Меня зовут {op}, я звоню из компании {company}.",
            "Здравствуйте, {cust}! Это {op}, {company}. Вам удобно сейчас говорить?",
            "Добрый день, {cust}! Вас беспокоит {op} из {company}.",
        ],
        "out_company": [
            "Здравствуйте, это {cust}? Вам звонят из компании {company}.",
            "Добрый день, {company} беспокоит. {cust}, верно?",
        ],
        "out_plain": ["Алло, {cust}? У меня к вам вопрос.", "Это {cust}?"],
        "cust_hello_back": ["Да, я.", "Да, слушаю.", "Да, это я. Что такое?"],
        "apology": [
            "Приносим извинения за эту ситуацию.",
            "Простите, пожалуйста, так не должно было случиться.",
            "Мне очень жаль, извините нас.",
            "Извините за неудобства.",
        ],
        "farewell": [
            "Спасибо за звонок, хорошего дня! До свидания.",
            "Всего доброго, {cust}. До свидания.",
            "Спасибо, что обратились. Всего хорошего!",
            "Пожалуйста. Хорошего вечера, до свидания.",
        ],
        "no_farewell_end": ["Ладно.", "Угу.", "Всё."],
        "cust_thanks_warm": [
            "Отлично, спасибо вам огромное!",
            "Замечательно, вы мне очень помогли, спасибо.",
            "Вот это здорово, я очень рад. Спасибо!",
            "Прекрасно, именно то, что нужно. Большое спасибо.",
        ],
        "cust_thanks_plain": ["Хорошо, спасибо.", "Ладно, спасибо.", "Понятно. Спасибо, до свидания."],
        "cust_bye": ["До свидания.", "Всего доброго.", "Пока."],
        "cust_angry_end": [
            "Это издевательство какое-то. Больше к вам ни ногой.",
            "Безобразие. Буду писать жалобу.",
            "То есть помочь мне никто не может. Замечательный сервис, ничего не скажешь.",
        ],
        "refuse": [
            "Спасибо, но меня пока всё устраивает.",
            "Нет, наверное, не стоит. Мне это не подходит.",
            "Я, пожалуй, откажусь. Спасибо.",
            "Благодарю, но нам это сейчас ни к чему.",
        ],
        "refuse_firm": [
            "Уберите мой номер из базы, мне это не интересно.",
            "Нет. Я уже говорил вашим коллегам, что мне это не нужно.",
        ],
        "busy": [
            "Извините, я сейчас за рулём. Перезвоните завтра утром.",
            "Я на совещании, можно вы наберёте после пяти?",
            "Сейчас неудобно, я на работе. Может, завтра вечером?",
        ],
        "busy_ack": [
            "Конечно. Тогда я наберу вас завтра в десять.",
            "Хорошо, позвоню вам сегодня после пяти.",
            "Договорились, свяжусь с вами завтра около семи вечера.",
        ],
        "think": [
            "Звучит интересно, но мне нужно посоветоваться с женой.",
            "Я подумаю. Позвоните мне в пятницу, хорошо?",
            "Хочу сначала прикинуть бюджет. Давайте созвонимся на следующей неделе.",
        ],
        "think_ack": [
            "Конечно. Я наберу вас в пятницу после обеда, удобно?",
            "Хорошо, позвоню вам во вторник в это же время.",
            "Договорились, я запишу и свяжусь с вами послезавтра.",
        ],
        "think_ok": ["Да, удобно.", "Хорошо, договорились.", "Давайте так."],
        "wrong_in": [
            "Алло, это стоматология? Я хотела записаться на приём.",
            "Здравствуйте, мне бы Петра Ивановича.",
            "Это такси? Мне нужна машина в аэропорт.",
        ],
        "wrong_in_reply": [
            "Вы, к сожалению, ошиблись номером, это {company}.",
            "Нет, это не они. Вы позвонили в {company}.",
        ],
        "wrong_in_cust": ["Ой, извините, ошиблась.", "Простите, не туда попал."],
        "wrong_out_ask": ["Могу я услышать Сергея Петрова?", "Пригласите, пожалуйста, Марину Олеговну."],
        "wrong_out_cust": [
            "Здесь таких нет, вы ошиблись номером.",
            "Не знаю такого. Неправильно набрали.",
        ],
        "wrong_out_sorry": ["Ой, прошу прощения за беспокойство.", "Извините, пожалуйста."],
        "rude_lines": [
            "Слушайте, у меня нет на это времени.",
            "Это не ко мне, я этим заниматься не буду.",
            "Я вам уже сказала, читайте договор.",
            "Не нравится — идите в другое место.",
        ],
        "escalate_no": [
            "Никто вам другого не скажет.",
            "Руководителя нет, и я ничего менять не стану.",
        ],
    },
}

# Per domain and language: what the customer wants, how the operator finds out more, what is offered, how a problem
# sounds and how it is fixed or not. `needs` are (operator question, customer answer) pairs.
DOMAINS: dict[str, dict[str, dict]] = {
    "telecom": {
        "en": {
            "company": ("Northwind Mobile", "Northwind Mobile"),
            "want": [
                "I'm after a new phone plan, mine runs out of data every month.",
                "I'd like to switch to a cheaper tariff if there is one.",
            ],
            "needs": [
                ("How much data do you usually get through in a month?", "About thirty gigabytes, I think."),
                ("Is it just for you, or for the whole family?", "Me and my daughter."),
                ("And do you call abroad much?", "Hardly ever."),
            ],
            "offer": [
                "Then I'd suggest our Family Forty plan: forty gigabytes shared for twenty two pounds a month.",
                "The best fit would be Flex Thirty, it gives you thirty gigs and unlimited calls.",
            ],
            "accept": ["Sounds good, let's go with that.", "OK, switch me over to it please."],
            "done": [
                "Done, the new plan starts tonight at midnight and you'll get a text to confirm.",
                "All set, it will be active from tomorrow and the first bill will show the new price.",
            ],
            "pitch": ["We've got a new fibre broadband bundle for existing customers at half price for six months."],
            "problem": [
                "My internet has been cutting out every evening for a week now.",
                "I was charged twice this month for the same bill.",
            ],
            "detail": [
                ("Could you tell me the account number, please?", "It's four four one nine two."),
                ("Since when exactly has this been happening?", "Since last Monday."),
            ],
            "fix": [
                "I can see a fault on your line; I've booked an engineer for tomorrow between eight and twelve.",
                "You're right, there's a duplicate payment. I've refunded it, it'll be back on your card in three "
                "days.",
            ],
            "cant_fix": [
                "I can't see anything wrong on our side, so there's nothing to be done.",
                "Refunds take sixty days, that's the policy, I can't speed it up.",
            ],
            "question": ["What time does your shop in the city centre close?"],
            "answer": ["The city centre shop is open until eight every day, and until six on Sundays."],
        },
        "ru": {
            "company": ("Sever Telecom", "Север Телеком"),
            "want": [
                "Хочу подобрать новый тариф, мне постоянно не хватает интернета.",
                "Подскажите, есть ли у вас тариф подешевле моего?",
            ],
            "needs": [
                ("Сколько гигабайт вы обычно тратите за месяц?", "Где-то тридцать."),
                ("Тариф нужен только вам или на всю семью?", "Мне и дочке."),
                ("За границу часто звоните?", "Почти никогда."),
            ],
            "offer": [
                "Тогда могу предложить тариф «Семейный»: сорок гигабайт на двоих за пятьсот рублей в месяц.",
                "Вам лучше всего подойдёт тариф «Гибкий»: тридцать гигабайт и безлимитные звонки.",
            ],
            "accept": ["Да, давайте его.", "Хорошо, переключите меня на него."],
            "done": [
                "Готово, новый тариф начнёт действовать с полуночи, вам придёт смс с подтверждением.",
                "Всё подключила, с завтрашнего дня будет новая цена.",
            ],
            "pitch": ["У нас новое предложение для абонентов: домашний интернет за полцены на полгода."],
            "problem": [
                "У меня уже неделю каждый вечер пропадает интернет.",
                "С меня в этом месяце дважды списали абонентскую плату.",
            ],
            "detail": [
                ("Назовите, пожалуйста, номер договора.", "Четыре четыре один девять два."),
                ("С какого дня это началось?", "С прошлого понедельника."),
            ],
            "fix": [
                "Вижу неисправность на линии, мастер приедет завтра с восьми до двенадцати.",
                "Да, списание задвоилось. Я оформила возврат, деньги вернутся на карту за три дня.",
            ],
            "cant_fix": [
                "С нашей стороны всё работает, так что сделать ничего нельзя.",
                "Возврат занимает шестьдесят дней, ускорить его я не могу.",
            ],
            "question": ["До скольки работает ваш салон в центре?"],
            "answer": ["Салон в центре работает до восьми вечера, в воскресенье до шести."],
        },
    },
    "furniture": {
        "en": {
            "company": ("Oakridge Furniture", "Oakridge Furniture"),
            "want": ["I'm looking for a sofa for a small living room.", "We need a desk for my son's bedroom."],
            "needs": [
                ("How much space have you got, roughly?", "About two metres along the wall."),
                ("Do you prefer fabric or leather?", "Fabric, we have a cat."),
                ("What sort of budget are you thinking of?", "Under six hundred if possible."),
            ],
            "offer": [
                "Then the Milo two-seater would suit you: it's one metre ninety, in washable fabric, five "
                "hundred and forty pounds.",
                "I'd recommend the Compact desk in oak, it fits a one metre twenty space.",
            ],
            "accept": ["Lovely, I'll take it.", "Yes, please reserve one for me."],
            "done": [
                "Lovely, I've reserved it and we'll deliver on Saturday morning, the driver rings an hour before.",
                "It's booked in for delivery next Wednesday; you'll get an email with the time slot.",
            ],
            "pitch": ["We're running a trade-in this month: bring your old sofa and get twenty percent off a new one."],
            "problem": [
                "The wardrobe you delivered has a cracked door.",
                "My dining table was meant to arrive on Tuesday and nobody turned up.",
            ],
            "detail": [
                ("Could I have your order reference?", "It's seven seven three one."),
                ("Is the crack on the front panel or the side?", "Right across the front."),
            ],
            "fix": [
                "We'll send a replacement door this Friday and the fitter will swap it for free.",
                "The van broke down. I've rebooked you for tomorrow morning, first drop of the day.",
            ],
            "cant_fix": [
                "Damage has to be reported within twenty four hours, so we can't accept it now.",
                "I've got no information from the warehouse, I can't tell you when it'll come.",
            ],
            "question": ["Do you do assembly, and how much does it cost?"],
            "answer": ["Yes, assembly is thirty five pounds per item, and it's free on orders over a thousand."],
        },
        "ru": {
            "company": ("Domotek", "Домотек"),
            "want": ["Ищу диван в небольшую гостиную.", "Нам нужен письменный стол в детскую."],
            "needs": [
                ("Какое у вас место под него, примерно?", "Около двух метров вдоль стены."),
                ("Вам больше нравится ткань или кожа?", "Ткань, у нас кошка."),
                ("На какой бюджет рассчитываете?", "До сорока тысяч, если можно."),
            ],
            "offer": [
                "Тогда вам подойдёт двухместный «Мило»: метр девяносто, моющаяся ткань, тридцать восемь тысяч.",
                "Рекомендую стол «Компакт» из дуба, он встаёт в проём метр двадцать.",
            ],
            "accept": ["Отлично, беру.", "Да, отложите, пожалуйста, один для меня."],
            "done": [
                "Отложила, доставим в субботу утром, водитель позвонит за час.",
                "Доставка на следующую среду, время придёт вам на почту.",
            ],
            "pitch": ["В этом месяце у нас обмен: сдаёте старый диван и получаете скидку двадцать процентов на новый."],
            "problem": [
                "Вы привезли шкаф с треснутой дверцей.",
                "Стол должны были привезти во вторник, и никто не приехал.",
            ],
            "detail": [
                ("Назовите, пожалуйста, номер заказа.", "Семь семь три один."),
                ("Трещина на фасаде или сбоку?", "Прямо через весь фасад."),
            ],
            "fix": [
                "Мы отправим новую дверцу в пятницу, сборщик бесплатно её заменит.",
                "Машина сломалась. Я перенесла доставку на завтра, вы первые по маршруту.",
            ],
            "cant_fix": [
                "Повреждения принимаются только в течение суток, сейчас уже поздно.",
                "У меня нет данных со склада, когда привезут, сказать не могу.",
            ],
            "question": ["Вы собираете мебель, и сколько это стоит?"],
            "answer": ["Да, сборка стоит полторы тысячи за предмет, при заказе от ста тысяч бесплатно."],
        },
    },
    "travel": {
        "en": {
            "company": ("Bluebird Travel", "Bluebird Travel"),
            "want": ["We'd like a week somewhere warm in October.", "I'm looking for a city break for two."],
            "needs": [
                ("Who's travelling, and are there any children?", "Two adults and one child, she's seven."),
                ("Do you want a beach or more sightseeing?", "Mostly beach, with a pool."),
                ("Which airport would you fly from?", "Manchester."),
            ],
            "offer": [
                "Then I'd suggest the Sea Breeze resort in Crete, family room with breakfast, one thousand "
                "four hundred for the three of you.",
                "Lisbon would be perfect: four nights in a central hotel, flights included, six hundred each.",
            ],
            "accept": ["That sounds perfect, let's book it.", "Yes, go ahead with that one."],
            "done": [
                "It's booked; the tickets and the voucher will be in your inbox within an hour.",
                "Reserved. You'll get the confirmation by email and the balance is due a month before you go.",
            ],
            "pitch": ["We've got last-minute deals to Turkey this weekend, up to forty percent off."],
            "problem": [
                "Our hotel had no air conditioning for the whole week.",
                "My flight was cancelled and nobody told me.",
            ],
            "detail": [
                ("Could I take your booking number?", "B L three three eight."),
                ("Did you report it to the rep at the hotel?", "Yes, twice."),
            ],
            "fix": [
                "I've approved compensation of two hundred pounds, it'll be paid to your card within five days.",
                "I've moved you onto the morning flight tomorrow at no cost, the new tickets are on their way.",
            ],
            "cant_fix": [
                "The hotel is responsible for that, you'd have to take it up with them.",
                "We aren't liable for airline cancellations, so I can't offer anything.",
            ],
            "question": ["Do I need a visa for Turkey with a British passport?"],
            "answer": ["No visa is needed for stays of up to ninety days, just a passport valid for six months."],
        },
        "ru": {
            "company": ("Голубая Птица", "Голубая Птица"),
            "want": ["Хотим на неделю куда-нибудь к морю в октябре.", "Ищу поездку на выходные в город на двоих."],
            "needs": [
                ("Сколько вас будет, есть ли дети?", "Двое взрослых и ребёнок семи лет."),
                ("Вам важнее пляж или экскурсии?", "Скорее пляж, и чтобы был бассейн."),
                ("Из какого города вылет?", "Из Казани."),
            ],
            "offer": [
                "Тогда предлагаю отель «Морской бриз» на Крите, семейный номер с завтраком, сто двадцать тысяч "
                "на троих.",
                "Отлично подойдёт Калининград: три ночи в центре, перелёт включён, по тридцать тысяч на человека.",
            ],
            "accept": ["Прекрасно, давайте бронировать.", "Да, оформляйте этот вариант."],
            "done": [
                "Забронировала, билеты и ваучер придут вам на почту в течение часа.",
                "Бронь готова, подтверждение придёт письмом, доплату нужно внести за месяц до вылета.",
            ],
            "pitch": ["У нас горящие туры в Турцию на эти выходные, скидки до сорока процентов."],
            "problem": [
                "В отеле всю неделю не работал кондиционер.",
                "Мой рейс отменили, и меня никто не предупредил.",
            ],
            "detail": [
                ("Подскажите номер брони.", "Б Л три три восемь."),
                ("Вы сообщали об этом гиду в отеле?", "Да, два раза."),
            ],
            "fix": [
                "Я согласовала компенсацию пятнадцать тысяч рублей, деньги придут на карту в течение пяти дней.",
                "Пересадила вас на утренний рейс завтра без доплаты, новые билеты уже отправила.",
            ],
            "cant_fix": [
                "За это отвечает отель, обращайтесь к ним.",
                "За отмену рейсов отвечает авиакомпания, мы ничего предложить не можем.",
            ],
            "question": ["Нужна ли виза в Турцию?"],
            "answer": ["Для поездок до шестидесяти дней виза не нужна, достаточно загранпаспорта."],
        },
    },
    "bank": {
        "en": {
            "company": ("Greenleaf Bank", "Greenleaf Bank"),
            "want": ["I'd like a credit card with cashback.", "I want to open a savings account."],
            "needs": [
                ("What do you mostly spend on, groceries, fuel, travel?", "Groceries and fuel mostly."),
                ("Would you want instant access to the money?", "Yes, I might need it any time."),
                ("Roughly how much would you put away each month?", "About two hundred."),
            ],
            "offer": [
                "Then the Everyday Cashback card fits: two percent back on groceries and fuel, no annual fee.",
                "I'd go for the Easy Saver: instant access and three point five percent interest.",
            ],
            "accept": ["Great, I'll apply for that.", "Yes, please open it for me."],
            "done": [
                "Your application is approved; the card will arrive by post within five working days.",
                "The account is open, you'll see it in the app in a few minutes.",
            ],
            "pitch": ["You're pre-approved for a personal loan at a reduced rate of six point nine percent."],
            "problem": ["There's a payment on my card I never made.", "My card got blocked while I was abroad."],
            "detail": [
                ("When did the payment appear?", "Yesterday evening."),
                ("Which country are you in at the moment?", "Spain."),
            ],
            "fix": [
                "I've blocked that card, raised a dispute, and a new card is on its way; the money is returned "
                "to your account today.",
                "I've unblocked it now, you can use it straight away.",
            ],
            "cant_fix": [
                "You'll need to visit a branch, I can't do anything over the phone.",
                "That payment was authorised with your PIN, so we won't be refunding it.",
            ],
            "question": ["What's the limit for contactless payments?"],
            "answer": ["Contactless payments go up to one hundred pounds each; above that you enter your PIN."],
        },
        "ru": {
            "company": ("Zelenbank", "Зеленбанк"),
            "want": ["Хочу оформить кредитную карту с кэшбэком.", "Хочу открыть накопительный счёт."],
            "needs": [
                ("На что вы чаще всего тратите: продукты, бензин, путешествия?", "В основном продукты и бензин."),
                ("Деньги могут понадобиться в любой момент?", "Да, лучше чтобы можно было снять сразу."),
                ("Сколько примерно планируете откладывать в месяц?", "Тысяч десять."),
            ],
            "offer": [
                "Тогда вам подойдёт карта «Каждый день»: два процента кэшбэка на продукты и бензин, "
                "обслуживание бесплатно.",
                "Советую счёт «Лёгкий»: снимать можно в любой момент, ставка двенадцать процентов.",
            ],
            "accept": ["Отлично, оформляйте.", "Да, откройте его, пожалуйста."],
            "done": [
                "Заявка одобрена, карту привезёт курьер в течение пяти рабочих дней.",
                "Счёт открыт, через пару минут он появится в приложении.",
            ],
            "pitch": ["Вам предварительно одобрен кредит по сниженной ставке девять и девять десятых процента."],
            "problem": ["С моей карты прошла оплата, которую я не делал.", "Мне заблокировали карту за границей."],
            "detail": [
                ("Когда появилось это списание?", "Вчера вечером."),
                ("В какой вы сейчас стране?", "В Испании."),
            ],
            "fix": [
                "Я заблокировала карту и открыла спор, деньги вернутся сегодня, новая карта уже выпускается.",
                "Я сняла блокировку, картой можно пользоваться прямо сейчас.",
            ],
            "cant_fix": [
                "Вам нужно прийти в отделение, по телефону я ничего сделать не могу.",
                "Операция подтверждена вашим пин-кодом, вернуть деньги мы не сможем.",
            ],
            "question": ["Какой лимит на бесконтактную оплату?"],
            "answer": ["Без пин-кода можно платить до трёх тысяч рублей, дальше нужно вводить пин-код."],
        },
    },
}

NAMES = {
    "en": {"op": ["Daniel", "Megan", "Oliver", "Priya", "Tom", "Grace"],
           "cust": ["Mister Carter", "Mrs Lewis", "Jake", "Ms Holt", "Mister Brown", "Emma"]},
    "ru": {"op": ["Андрей", "Елена", "Максим", "Светлана", "Игорь", "Наталья"],
           "cust": ["Ольга Викторовна", "Дмитрий", "Анна Сергеевна", "Павел", "Ирина", "Михаил Петрович"]},
}  # fmt: skip
