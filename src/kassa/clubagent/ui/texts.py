# ruff: noqa: RUF001 (Cyrillic letters that look Latin are the Russian words)
"""Every word the club PC's customer sees, in Russian and English (`View.language`), and how
money and time are written.

A dict per language rather than gettext: the agent installs without the hub's babel, and the
two languages are short enough to read side by side. A language the club has not got falls
back to Russian, a key missing from English to Russian (so a forgotten word still shows).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from kassa.clubagent.model import AgentError, Notice

DEFAULT_LANGUAGE = "ru"

RU: dict[str, str] = {
    "title": "Kassa — клуб",
    "pc": "Компьютер: {alias}",
    "no_club": "Клуб",
    "offline": "Сервер клуба недоступен — обратитесь к администратору",
    "sign_in": "Вход",
    "login": "Логин",
    "password": "Пароль",
    "sign_in_button": "Войти",
    "signing_in": "Проверяем…",
    "enter_login": "Введите логин и пароль",
    "packages": "Пакеты",
    "no_packages": "Клуб пока не предлагает пакетов",
    "unavailable": "сейчас недоступен",
    "sign_in_to_buy": "Войдите, чтобы купить пакет или играть поминутно",
    "per_minute": "Поминутно",
    "as_long_as_balance": "пока хватит баланса",
    "choose": "Выберите пакет или поминутную игру",
    "pricing": "Считаем цену…",
    "preview": "{time} игры · {price}",
    "preview_uses": "Из банка времени: {bank} · из пакетов: {packages}",
    "balance_after": "Баланс после: {balance}",
    "start": "Начать",
    "starting": "Запускаем сеанс…",
    "hello": "Здравствуйте, {name}",
    "balance": "Баланс",
    "time_bank": "Банк времени",
    "package_time": "В пакетах",
    "sign_out": "Выйти",
    "topup": "Пополнить онлайн",
    "topup_hint": "Логин и сумма — отсканируйте QR телефоном и оплатите",
    "amount": "Сумма",
    "topup_button": "Получить QR",
    "enter_amount": "Введите логин и сумму больше нуля",
    "topup_waiting": "Ждём оплату {amount} для {login}…",
    "topup_credited": "Зачислено {amount} на счёт {login}",
    "topup_failed": "Оплата не прошла",
    "topup_off": "Онлайн-пополнение в этом клубе недоступно",
    "close": "Закрыть",
    "time_left": "Осталось",
    "warning": "Осталось меньше {minutes} мин — сохраните игру",
    "games": "Игры",
    "apps": "Программы",
    "no_apps": "Здесь пока пусто",
    "end_session": "Завершить сеанс",
    "end_confirm": "Завершить сеанс? Неиспользованное время вернётся.",
    "end_yes": "Да, завершить",
    "cancel": "Отмена",
    "message_title": "Сообщение от администратора",
    "ok": "OK",
    "staff_title": "Панель администратора",
    "staff_pin": "PIN администратора",
    "staff_unlock": "Разблокировать",
    "staff_checking": "Проверяем PIN…",
    "staff_pc": "Компьютер: {alias} ({pc}), {club}",
    "staff_online": "Связь с сервером: есть",
    "staff_offline": "Связь с сервером: нет",
    "staff_left": "Доступ ещё {time}",
    "staff_alarms": "Тревоги",
    "staff_no_alarms": "Тревог нет",
    "staff_lock": "Заблокировать снова",
    "staff_quit": "Закрыть агент",
    "notice_time_up": "Время сеанса вышло",
    "notice_lease_expired": "Сеанс закончился: нет связи с сервером клуба",
    "notice_ended_by_staff": "Сеанс завершён администратором",
    "notice_locked_by_staff": "Компьютер заблокирован администратором",
    "notice_session_ended": "Сеанс завершён",
    "error_sign_in_failed": "Неверный логин или пароль",
    "error_customer_blocked": "Ваш аккаунт заблокирован — обратитесь к администратору",
    "error_insufficient_funds": "Недостаточно средств на балансе",
    "error_session_exists": "У вас уже идёт сеанс",
    "error_customer_not_found": "Такого логина в клубе нет",
    "error_hub_unreachable": "Сервер клуба недоступен — обратитесь к администратору",
    "error_pin_invalid": "Неверный PIN",
    "error_too_many_attempts": "Слишком много попыток — подождите несколько минут",
    "error_ticket_expired": "Вход устарел — войдите снова",
    "error_package_unavailable": "Этот пакет сейчас недоступен",
    "hours": "ч",
    "mins": "мин",
}

EN: dict[str, str] = {
    "title": "Kassa — club",
    "pc": "Computer: {alias}",
    "no_club": "Club",
    "offline": "The club's server is unreachable — ask the staff",
    "sign_in": "Sign in",
    "login": "Login",
    "password": "Password",
    "sign_in_button": "Sign in",
    "signing_in": "Checking…",
    "enter_login": "Enter your login and password",
    "packages": "Packages",
    "no_packages": "The club offers no packages yet",
    "unavailable": "not available now",
    "sign_in_to_buy": "Sign in to buy a package or play per minute",
    "per_minute": "Per minute",
    "as_long_as_balance": "while the balance lasts",
    "choose": "Choose a package or per-minute play",
    "pricing": "Working out the price…",
    "preview": "{time} of play · {price}",
    "preview_uses": "From the time bank: {bank} · from packages: {packages}",
    "balance_after": "Balance after: {balance}",
    "start": "Start",
    "starting": "Starting the session…",
    "hello": "Hello, {name}",
    "balance": "Balance",
    "time_bank": "Time bank",
    "package_time": "In packages",
    "sign_out": "Sign out",
    "topup": "Top up online",
    "topup_hint": "Login and amount — scan the QR with your phone and pay",
    "amount": "Amount",
    "topup_button": "Get the QR",
    "enter_amount": "Enter a login and an amount above zero",
    "topup_waiting": "Waiting for the payment of {amount} for {login}…",
    "topup_credited": "{amount} credited to {login}",
    "topup_failed": "The payment did not go through",
    "topup_off": "Online top-up is not offered in this club",
    "close": "Close",
    "time_left": "Time left",
    "warning": "Less than {minutes} min left — save your game",
    "games": "Games",
    "apps": "Apps",
    "no_apps": "Nothing here yet",
    "end_session": "End session",
    "end_confirm": "End the session? The unused time is given back.",
    "end_yes": "Yes, end it",
    "cancel": "Cancel",
    "message_title": "A message from the staff",
    "ok": "OK",
    "staff_title": "Staff panel",
    "staff_pin": "Staff PIN",
    "staff_unlock": "Unlock",
    "staff_checking": "Checking the PIN…",
    "staff_pc": "PC: {alias} ({pc}), {club}",
    "staff_online": "Link to the server: up",
    "staff_offline": "Link to the server: down",
    "staff_left": "Access for {time} more",
    "staff_alarms": "Alarms",
    "staff_no_alarms": "No alarms",
    "staff_lock": "Lock again",
    "staff_quit": "Quit the agent",
    "notice_time_up": "The session's time is up",
    "notice_lease_expired": "The session ended: the club's server could not be reached",
    "notice_ended_by_staff": "The staff ended the session",
    "notice_locked_by_staff": "The staff locked this PC",
    "notice_session_ended": "The session has ended",
    "error_sign_in_failed": "Wrong login or password",
    "error_customer_blocked": "Your account is blocked — ask the staff",
    "error_insufficient_funds": "Not enough money on the balance",
    "error_session_exists": "You already have a session running",
    "error_customer_not_found": "No customer with this login in the club",
    "error_hub_unreachable": "The club's server is unreachable — ask the staff",
    "error_pin_invalid": "Wrong PIN",
    "error_too_many_attempts": "Too many attempts — wait a few minutes",
    "error_ticket_expired": "The sign-in has expired — sign in again",
    "error_package_unavailable": "This package is not available now",
    "hours": "h",
    "mins": "min",
}

LANGUAGES: dict[str, dict[str, str]] = {"ru": RU, "en": EN}

#: Currency signs written after the amount; other currencies by their code.
SIGNS = {"KZT": "₸", "RUB": "₽"}


def text(language: str, key: str, **values: object) -> str:
    """The words for `key` in `language`, with `values` filled in."""
    words = LANGUAGES.get(language, RU).get(key) or RU[key]
    return words.format(**values) if values else words


def money(amount: str, currency: str, language: str) -> str:
    """A decimal string as the customer reads it: `1 500 ₸`, `99,50 ₽`, `12.50 USD`.

    Whole amounts drop their zero kopecks; thousands are grouped by a narrow no-break space.
    """
    try:
        value = Decimal(amount)
    except InvalidOperation:
        return f"{amount} {currency}"
    whole = value == value.to_integral_value()
    digits = f"{value:,.0f}" if whole else f"{value:,.2f}"
    digits = digits.replace(",", "\u202f")
    if language == "ru":
        digits = digits.replace(".", ",")
    return f"{digits}\u00a0{SIGNS.get(currency, currency)}"


def clock(seconds: int) -> str:
    """`H:MM:SS`, as the session bar counts down: `1:05:09`."""
    seconds = max(seconds, 0)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def duration(seconds: int, language: str) -> str:
    """A length of play in words: `3 ч`, `1 ч 30 мин`, `45 min`."""
    hours, rest = divmod(max(seconds, 0) // 60, 60)
    parts = [f"{hours}\u00a0{text(language, 'hours')}"] if hours else []
    if rest or not hours:
        parts.append(f"{rest}\u00a0{text(language, 'mins')}")
    return " ".join(parts)


def notice(language: str, which: Notice) -> str:
    return text(language, f"notice_{which.value}")


def error(language: str, failure: BaseException) -> str:
    """A failed request in words: the agent's code when known, else the hub's own message."""
    if not isinstance(failure, AgentError):
        return str(failure)
    key = f"error_{failure.code}"
    if key in LANGUAGES.get(language, RU) or key in RU:
        return text(language, key)
    return failure.message or failure.code
