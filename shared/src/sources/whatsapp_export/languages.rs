//! The app's own phrases, one table per language: the markers that replace
//! a message's text (deleted, omitted media, missed calls), the trailing
//! edited marker, the attachment markers and the sentences of its notices.
//!
//! A new language is a new [`Language`] constant added to [`LANGUAGES`];
//! `markers` builds its lookups from these tables once. Whole-text markers
//! are matched without regard to case, with any space-like character
//! (NBSP, U+202F) taken as a space and a trailing full stop ignored;
//! invisible marks are removed before matching. Write the phrases as the app
//! shows them; the matching folds case itself.
//!
//! The phrases are the app's wording as collected from exports and the
//! app's translations; where a language has changed its wording over the
//! years, every known form is listed. When a real export shows a form that
//! is missing, add it to the language's table (and a line to the marker
//! fixtures).

/// The phrases of one language.
#[derive(Debug)]
pub(super) struct Language {
    /// BCP 47 tag, naming the table in tests.
    #[cfg_attr(not(test), expect(dead_code, reason = "names the table in tests"))]
    pub tag: &'static str,
    /// A message someone deleted (whole text).
    pub deleted: &'static [&'static str],
    /// A message the exporter deleted (whole text).
    pub you_deleted: &'static [&'static str],
    /// A missed voice call (whole text; iOS may add `, Tap to call back`).
    pub missed_voice: &'static [&'static str],
    /// A missed video call.
    pub missed_video: &'static [&'static str],
    /// Android: media not included in the export, of any kind; always in
    /// angle brackets (`<Media omitted>`), which the caption rule relies on.
    pub media_omitted: &'static [&'static str],
    /// iOS: an image not included.
    pub image_omitted: &'static [&'static str],
    /// iOS: a video not included.
    pub video_omitted: &'static [&'static str],
    /// iOS: a voice message or audio file not included.
    pub audio_omitted: &'static [&'static str],
    /// iOS: a sticker not included.
    pub sticker_omitted: &'static [&'static str],
    /// iOS: a GIF not included.
    pub gif_omitted: &'static [&'static str],
    /// iOS: a contact card not included.
    pub contact_omitted: &'static [&'static str],
    /// iOS: a document not included, alone or after its description
    /// (`report.pdf • 3 pages document omitted`).
    pub document_omitted: &'static [&'static str],
    /// The trailing marker of an edited message.
    pub edited: &'static [&'static str],
    /// Android: ` (file attached)` after a file name (older iOS: ` <attached>`).
    pub file_attached: &'static [&'static str],
    /// iOS: the tag of `<attached: NAME>`.
    pub attached: &'static [&'static str],
    /// Sentences (or parts) of notices that occur in any chat: the
    /// end-to-end encryption notice, security-code changes.
    pub notices: &'static [&'static str],
    /// Sentences (or parts) of notices that only occur in groups: created,
    /// added, removed, left, changed the subject.
    pub group_notices: &'static [&'static str],
}

/// Every supported language.
pub(super) const LANGUAGES: &[&Language] = &[
    &ENGLISH,
    &GERMAN,
    &FRENCH,
    &SPANISH,
    &ITALIAN,
    &PORTUGUESE_BRAZIL,
    &PORTUGUESE_PORTUGAL,
    &DUTCH,
    &CZECH,
    &POLISH,
    &RUSSIAN,
    &UKRAINIAN,
    &HINDI,
    &INDONESIAN,
    &JAPANESE,
    &THAI,
    &VIETNAMESE,
    &ARABIC,
    &TURKISH,
    &CHINESE_SIMPLIFIED,
    &CHINESE_TRADITIONAL,
    &KOREAN,
];

const ENGLISH: Language = Language {
    tag: "en",
    deleted: &["This message was deleted"],
    you_deleted: &["You deleted this message"],
    missed_voice: &["Missed voice call", "Missed group voice call"],
    missed_video: &["Missed video call", "Missed group video call"],
    media_omitted: &["<Media omitted>"],
    image_omitted: &["image omitted"],
    video_omitted: &["video omitted"],
    audio_omitted: &["audio omitted"],
    sticker_omitted: &["sticker omitted"],
    gif_omitted: &["GIF omitted"],
    contact_omitted: &["Contact card omitted"],
    document_omitted: &["document omitted"],
    edited: &["<This message was edited>"],
    // Older iOS wrote `NAME <attached>` (sometimes with `‹`).
    file_attached: &[" (file attached)", " <attached>", " ‹attached>"],
    attached: &["attached"],
    notices: &[
        "end-to-end encrypt",
        "security code",
        "changed their phone number",
        "isappearing messages",
        "pinned a message",
        "blocked this contact",
        "business account",
    ],
    group_notices: &[
        "created group",
        "created this group",
        " added",
        " removed",
        " left",
        "changed the subject",
        "changed this group",
        "changed the group",
        "invite link",
        "joined using",
        "now an admin",
    ],
};

const GERMAN: Language = Language {
    tag: "de",
    deleted: &["Diese Nachricht wurde gelöscht"],
    you_deleted: &["Du hast diese Nachricht gelöscht"],
    missed_voice: &["Verpasster Sprachanruf", "Verpasster Gruppen-Sprachanruf"],
    missed_video: &["Verpasster Videoanruf", "Verpasster Gruppen-Videoanruf"],
    media_omitted: &["<Medien ausgeschlossen>", "<Medien weggelassen>"],
    image_omitted: &["Bild weggelassen"],
    video_omitted: &["Video weggelassen"],
    audio_omitted: &["Audio weggelassen"],
    sticker_omitted: &["Sticker weggelassen"],
    gif_omitted: &["GIF weggelassen"],
    contact_omitted: &["Kontaktkarte weggelassen", "Kontakt weggelassen"],
    document_omitted: &["Dokument weggelassen"],
    edited: &["<Diese Nachricht wurde bearbeitet>"],
    file_attached: &[" (Datei angehängt)"],
    attached: &["Anhang"],
    notices: &["Ende-zu-Ende-verschlüsselt", "Sicherheitsnummer"],
    group_notices: &[
        "hat die Gruppe",
        "hinzugefügt",
        "entfernt",
        "hat den Betreff",
        "hat das Gruppenbild",
    ],
};

const FRENCH: Language = Language {
    tag: "fr",
    deleted: &["Ce message a été supprimé"],
    you_deleted: &["Vous avez supprimé ce message"],
    missed_voice: &["Appel vocal manqué", "Appel vocal de groupe manqué"],
    missed_video: &["Appel vidéo manqué", "Appel vidéo de groupe manqué"],
    media_omitted: &["<Médias omis>"],
    image_omitted: &["image absente", "image omise"],
    video_omitted: &["vidéo absente", "vidéo omise"],
    audio_omitted: &["audio absent", "audio omis"],
    sticker_omitted: &["autocollant absent", "autocollant omis"],
    gif_omitted: &["GIF absent", "GIF omis"],
    contact_omitted: &["fiche contact absente", "carte de contact omise"],
    document_omitted: &["document absent", "document omis"],
    edited: &["<Ce message a été modifié>"],
    file_attached: &[" (fichier joint)"],
    attached: &["pièce jointe"],
    notices: &["de bout en bout", "code de sécurité"],
    group_notices: &[
        "a créé le groupe",
        " a ajouté",
        " a retiré",
        " est parti",
        "a modifié le sujet",
        "a changé le sujet",
    ],
};

const SPANISH: Language = Language {
    tag: "es",
    deleted: &["Se eliminó este mensaje", "Este mensaje fue eliminado"],
    you_deleted: &["Eliminaste este mensaje"],
    missed_voice: &[
        "Llamada perdida",
        "Llamada de voz perdida",
        "Llamada de voz grupal perdida",
    ],
    missed_video: &["Videollamada perdida", "Videollamada grupal perdida"],
    media_omitted: &["<Multimedia omitido>"],
    image_omitted: &["imagen omitida"],
    video_omitted: &["video omitido", "vídeo omitido"],
    audio_omitted: &["audio omitido"],
    sticker_omitted: &["sticker omitido"],
    gif_omitted: &["GIF omitido"],
    contact_omitted: &["tarjeta de contacto omitida"],
    document_omitted: &["documento omitido"],
    edited: &["<Se editó este mensaje.>"],
    file_attached: &[" (archivo adjunto)"],
    attached: &["adjunto"],
    notices: &["de extremo a extremo", "código de seguridad"],
    group_notices: &[
        "creó el grupo",
        " añadió",
        " eliminó a",
        " salió",
        "cambió el asunto",
        "cambió el nombre del grupo",
    ],
};

const ITALIAN: Language = Language {
    tag: "it",
    deleted: &["Questo messaggio è stato eliminato"],
    you_deleted: &["Hai eliminato questo messaggio"],
    missed_voice: &["Chiamata vocale persa", "Chiamata vocale di gruppo persa"],
    missed_video: &["Videochiamata persa", "Videochiamata di gruppo persa"],
    media_omitted: &["<Media omessi>"],
    image_omitted: &["immagine omessa"],
    video_omitted: &["video omesso"],
    audio_omitted: &["audio omesso"],
    sticker_omitted: &["sticker omesso"],
    gif_omitted: &["GIF omessa", "GIF omesso"],
    contact_omitted: &["scheda contatto omessa"],
    document_omitted: &["documento omesso"],
    edited: &["<Questo messaggio è stato modificato>"],
    file_attached: &[" (file allegato)"],
    attached: &["allegato"],
    notices: &[
        "crittografia end-to-end",
        "crittografati end-to-end",
        "codice di sicurezza",
    ],
    group_notices: &[],
};

const PORTUGUESE_BRAZIL: Language = Language {
    tag: "pt-BR",
    deleted: &["Mensagem apagada", "Esta mensagem foi apagada"],
    you_deleted: &["Você apagou esta mensagem"],
    missed_voice: &["Chamada de voz perdida", "Chamada de voz em grupo perdida"],
    missed_video: &[
        "Chamada de vídeo perdida",
        "Chamada de vídeo em grupo perdida",
    ],
    media_omitted: &["<Mídia oculta>", "<Arquivo de mídia oculto>"],
    image_omitted: &["imagem ocultada"],
    video_omitted: &["vídeo ocultado"],
    audio_omitted: &["áudio ocultado"],
    sticker_omitted: &["figurinha omitida", "figurinha ocultada"],
    gif_omitted: &["GIF omitido", "GIF ocultado"],
    contact_omitted: &["cartão de contato omitido", "cartão de contato ocultado"],
    document_omitted: &["documento ocultado"],
    edited: &["<Mensagem editada>"],
    file_attached: &[" (arquivo anexado)"],
    attached: &["anexado"],
    notices: &["de ponta a ponta", "código de segurança"],
    group_notices: &[
        "criou o grupo",
        " adicionou",
        " removeu",
        " saiu",
        "mudou o assunto",
    ],
};

const PORTUGUESE_PORTUGAL: Language = Language {
    tag: "pt-PT",
    deleted: &["Esta mensagem foi eliminada", "Mensagem eliminada"],
    you_deleted: &["Eliminou esta mensagem"],
    missed_voice: &["Chamada de voz não atendida"],
    missed_video: &["Chamada de vídeo não atendida"],
    media_omitted: &["<Multimédia omitida>"],
    image_omitted: &["imagem omitida"],
    video_omitted: &["vídeo omitido"],
    audio_omitted: &["áudio omitido"],
    sticker_omitted: &["autocolante omitido"],
    gif_omitted: &["GIF omitido"],
    contact_omitted: &["cartão de contacto omitido"],
    document_omitted: &["documento omitido"],
    edited: &["<Esta mensagem foi editada>"],
    file_attached: &[" (ficheiro anexado)"],
    attached: &["anexado"],
    notices: &["ponto a ponto", "código de segurança"],
    group_notices: &[],
};

const DUTCH: Language = Language {
    tag: "nl",
    deleted: &["Dit bericht is verwijderd"],
    you_deleted: &[
        "Je hebt dit bericht verwijderd",
        "U hebt dit bericht verwijderd",
    ],
    missed_voice: &["Gemiste spraakoproep", "Gemiste groepsspraakoproep"],
    missed_video: &["Gemiste video-oproep", "Gemiste groepsvideo-oproep"],
    media_omitted: &["<Media weggelaten>"],
    image_omitted: &["afbeelding weggelaten"],
    video_omitted: &["video weggelaten"],
    audio_omitted: &["audio weggelaten"],
    sticker_omitted: &["sticker weggelaten"],
    gif_omitted: &["GIF weggelaten"],
    contact_omitted: &["contactkaart weggelaten"],
    document_omitted: &["document weggelaten"],
    edited: &["<Dit bericht is bewerkt>"],
    file_attached: &[" (bestand bijgevoegd)"],
    attached: &["bijlage"],
    notices: &["end-to-end versleuteld", "beveiligingscode"],
    group_notices: &[],
};

const CZECH: Language = Language {
    tag: "cs",
    deleted: &["Tato zpráva byla smazána"],
    you_deleted: &["Smazali jste tuto zprávu", "Tuto zprávu jste smazali"],
    missed_voice: &["Zmeškaný hlasový hovor"],
    missed_video: &["Zmeškaný videohovor"],
    media_omitted: &["<Média vynechána>", "<Média vynechána.>"],
    image_omitted: &["obrázek vynechán"],
    video_omitted: &["video vynecháno"],
    audio_omitted: &["zvuk vynechán"],
    sticker_omitted: &["nálepka vynechána"],
    gif_omitted: &["GIF vynechán"],
    contact_omitted: &["kontakt vynechán"],
    document_omitted: &["dokument vynechán"],
    edited: &["<Tato zpráva byla upravena>"],
    file_attached: &[" (soubor připojen)"],
    attached: &["příloha"],
    notices: &["koncovým šifrováním", "bezpečnostní kód"],
    group_notices: &[],
};

const POLISH: Language = Language {
    tag: "pl",
    deleted: &["Ta wiadomość została usunięta"],
    you_deleted: &[
        "Usunięto tę wiadomość",
        "Usunąłeś tę wiadomość",
        "Usunęłaś tę wiadomość",
    ],
    missed_voice: &["Nieodebrane połączenie głosowe"],
    missed_video: &["Nieodebrane połączenie wideo"],
    media_omitted: &["<Pominięto multimedia>"],
    image_omitted: &["pominięto obraz"],
    video_omitted: &["pominięto wideo"],
    audio_omitted: &["pominięto audio"],
    sticker_omitted: &["pominięto naklejkę"],
    gif_omitted: &["pominięto GIF"],
    contact_omitted: &["pominięto wizytówkę"],
    document_omitted: &["pominięto dokument"],
    edited: &["<Ta wiadomość została edytowana>"],
    file_attached: &[" (załączono plik)"],
    attached: &["załącznik"],
    notices: &["szyfrowane end-to-end", "kod zabezpieczenia"],
    group_notices: &[],
};

const RUSSIAN: Language = Language {
    tag: "ru",
    deleted: &["Данное сообщение удалено", "Это сообщение удалено"],
    you_deleted: &["Вы удалили данное сообщение", "Вы удалили это сообщение"],
    missed_voice: &["Пропущенный аудиозвонок", "Пропущенный голосовой звонок"],
    missed_video: &["Пропущенный видеозвонок"],
    media_omitted: &["<Без медиафайлов>", "<Медиа отсутствует>"],
    image_omitted: &["изображение отсутствует"],
    video_omitted: &["видео отсутствует"],
    audio_omitted: &["аудио отсутствует"],
    sticker_omitted: &["стикер отсутствует"],
    gif_omitted: &["GIF отсутствует"],
    contact_omitted: &["карточка контакта отсутствует"],
    document_omitted: &["документ отсутствует"],
    edited: &["<Сообщение изменено>"],
    file_attached: &[" (файл прикреплен)", " (файл прикреплён)"],
    attached: &["вложение"],
    notices: &["сквозным шифрованием", "код безопасности"],
    group_notices: &[],
};

const UKRAINIAN: Language = Language {
    tag: "uk",
    deleted: &["Це повідомлення видалено"],
    you_deleted: &["Ви видалили це повідомлення"],
    missed_voice: &["Пропущений голосовий дзвінок", "Пропущений аудіодзвінок"],
    missed_video: &["Пропущений відеодзвінок"],
    media_omitted: &["<Медіафайли пропущено>", "<Без медіафайлів>"],
    image_omitted: &["зображення пропущено"],
    video_omitted: &["відео пропущено"],
    audio_omitted: &["аудіо пропущено"],
    sticker_omitted: &["стікер пропущено"],
    gif_omitted: &["GIF пропущено"],
    contact_omitted: &["картку контакту пропущено"],
    document_omitted: &["документ пропущено"],
    edited: &["<Повідомлення змінено>"],
    file_attached: &[" (файл додано)"],
    attached: &["вкладення"],
    notices: &["наскрізним шифруванням", "код безпеки"],
    group_notices: &[],
};

const HINDI: Language = Language {
    tag: "hi",
    deleted: &["यह मैसेज हटा दिया गया था", "यह संदेश हटा दिया गया"],
    you_deleted: &["आपने यह मैसेज हटा दिया", "आपने यह संदेश हटाया"],
    missed_voice: &["मिस्ड वॉइस कॉल"],
    missed_video: &["मिस्ड वीडियो कॉल"],
    media_omitted: &["<मीडिया के बिना>", "<मीडिया छोड़ दिया गया>"],
    image_omitted: &["इमेज छोड़ दी गई"],
    video_omitted: &["वीडियो छोड़ दिया गया"],
    audio_omitted: &["ऑडियो छोड़ दिया गया"],
    sticker_omitted: &["स्टिकर छोड़ दिया गया"],
    gif_omitted: &["GIF छोड़ दिया गया"],
    contact_omitted: &["संपर्क कार्ड छोड़ दिया गया"],
    document_omitted: &["दस्तावेज़ छोड़ दिया गया"],
    edited: &["<यह मैसेज एडिट किया गया था>"],
    file_attached: &[" (फ़ाइल अटैच की गई)"],
    attached: &["अटैच किया गया"],
    notices: &["एंड-टू-एंड एन्क्रिप्टेड", "सुरक्षा कोड"],
    group_notices: &[],
};

const INDONESIAN: Language = Language {
    tag: "id",
    deleted: &["Pesan ini telah dihapus"],
    you_deleted: &["Anda menghapus pesan ini"],
    missed_voice: &["Panggilan suara tak terjawab"],
    missed_video: &["Panggilan video tak terjawab"],
    media_omitted: &["<Media tidak disertakan>"],
    image_omitted: &["gambar tidak disertakan"],
    video_omitted: &["video tidak disertakan"],
    audio_omitted: &["audio tidak disertakan"],
    sticker_omitted: &["stiker tidak disertakan"],
    gif_omitted: &["GIF tidak disertakan"],
    contact_omitted: &["kartu kontak tidak disertakan"],
    document_omitted: &["dokumen tidak disertakan"],
    edited: &["<Pesan ini telah diedit>"],
    file_attached: &[" (file terlampir)"],
    attached: &["terlampir"],
    notices: &["terenkripsi secara end-to-end", "kode keamanan"],
    group_notices: &[],
};

const JAPANESE: Language = Language {
    tag: "ja",
    deleted: &["このメッセージは削除されました"],
    you_deleted: &["このメッセージを削除しました", "メッセージを削除しました"],
    missed_voice: &["不在着信（音声）", "音声通話の不在着信"],
    missed_video: &["不在着信（ビデオ）", "ビデオ通話の不在着信"],
    media_omitted: &["<メディアなし>", "<メディアは含まれていません>"],
    image_omitted: &["画像は省略されました", "画像を省略しました"],
    video_omitted: &["動画は省略されました", "動画を省略しました"],
    audio_omitted: &["音声は省略されました", "音声を省略しました"],
    sticker_omitted: &["スタンプは省略されました", "スタンプを省略しました"],
    gif_omitted: &["GIFは省略されました", "GIFを省略しました"],
    contact_omitted: &["連絡先カードは省略されました", "連絡先カードを省略しました"],
    document_omitted: &["書類は省略されました", "書類を省略しました"],
    edited: &["<このメッセージは編集されました>"],
    file_attached: &[" (ファイル添付)", "（ファイル添付）"],
    attached: &["添付"],
    notices: &["エンドツーエンド暗号化", "セキュリティコード"],
    group_notices: &[],
};

const THAI: Language = Language {
    tag: "th",
    deleted: &["ข้อความนี้ถูกลบแล้ว"],
    you_deleted: &["คุณลบข้อความนี้แล้ว"],
    missed_voice: &["สายสนทนาด้วยเสียงที่ไม่ได้รับ", "สายโทรด้วยเสียงที่ไม่ได้รับ"],
    missed_video: &["วิดีโอคอลที่ไม่ได้รับ"],
    media_omitted: &["<ไม่รวมสื่อ>"],
    image_omitted: &["ไม่รวมรูปภาพ"],
    video_omitted: &["ไม่รวมวิดีโอ"],
    audio_omitted: &["ไม่รวมเสียง"],
    sticker_omitted: &["ไม่รวมสติกเกอร์"],
    gif_omitted: &["ไม่รวม GIF"],
    contact_omitted: &["ไม่รวมนามบัตร"],
    document_omitted: &["ไม่รวมเอกสาร"],
    edited: &["<ข้อความนี้ถูกแก้ไขแล้ว>"],
    file_attached: &[" (ไฟล์แนบ)"],
    attached: &["แนบ"],
    notices: &["ต้นทางถึงปลายทาง", "รหัสความปลอดภัย"],
    group_notices: &[],
};

const VIETNAMESE: Language = Language {
    tag: "vi",
    deleted: &["Tin nhắn này đã bị xóa", "Tin nhắn này đã bị xoá"],
    you_deleted: &["Bạn đã xóa tin nhắn này", "Bạn đã xoá tin nhắn này"],
    missed_voice: &["Cuộc gọi thoại bị nhỡ"],
    missed_video: &["Cuộc gọi video bị nhỡ"],
    media_omitted: &["<Media bị bỏ qua>", "<Đã bỏ qua tệp phương tiện>"],
    image_omitted: &["đã bỏ qua hình ảnh"],
    video_omitted: &["đã bỏ qua video"],
    audio_omitted: &["đã bỏ qua âm thanh"],
    sticker_omitted: &["đã bỏ qua nhãn dán"],
    gif_omitted: &["đã bỏ qua GIF"],
    contact_omitted: &["đã bỏ qua thẻ liên hệ"],
    document_omitted: &["đã bỏ qua tài liệu"],
    edited: &["<Tin nhắn này đã được chỉnh sửa>"],
    file_attached: &[" (tệp đính kèm)"],
    attached: &["đính kèm"],
    notices: &["mã hóa đầu cuối", "mã bảo mật"],
    group_notices: &[],
};

const ARABIC: Language = Language {
    tag: "ar",
    deleted: &["تم حذف هذه الرسالة"],
    you_deleted: &["لقد حذفت هذه الرسالة", "حذفت هذه الرسالة"],
    missed_voice: &["مكالمة صوتية فائتة"],
    missed_video: &["مكالمة فيديو فائتة"],
    media_omitted: &["<الوسائط محذوفة>", "<تم استبعاد الوسائط>"],
    image_omitted: &["الصورة محذوفة"],
    video_omitted: &["الفيديو محذوف"],
    audio_omitted: &["الصوت محذوف"],
    sticker_omitted: &["الملصق محذوف"],
    gif_omitted: &["صورة GIF محذوفة"],
    contact_omitted: &["بطاقة جهة الاتصال محذوفة"],
    document_omitted: &["المستند محذوف"],
    edited: &["<تم تعديل هذه الرسالة>"],
    file_attached: &[" (ملف مرفق)"],
    attached: &["مرفق"],
    notices: &["تمامًا بين الطرفين", "رمز الأمان"],
    group_notices: &[],
};

const TURKISH: Language = Language {
    tag: "tr",
    deleted: &["Bu mesaj silindi"],
    you_deleted: &["Bu mesajı sildiniz"],
    missed_voice: &["Cevapsız sesli arama"],
    missed_video: &["Cevapsız görüntülü arama"],
    media_omitted: &["<Medya dahil edilmedi>", "<Medya çıkarıldı>"],
    image_omitted: &["görüntü dahil edilmedi"],
    video_omitted: &["video dahil edilmedi"],
    audio_omitted: &["ses dahil edilmedi"],
    sticker_omitted: &["çıkartma dahil edilmedi"],
    gif_omitted: &["GIF dahil edilmedi"],
    contact_omitted: &["kişi kartı dahil edilmedi"],
    document_omitted: &["belge dahil edilmedi"],
    edited: &["<Bu mesaj düzenlendi>"],
    file_attached: &[" (dosya ekli)"],
    attached: &["eklendi"],
    notices: &["uçtan uca şifreli", "güvenlik kodu"],
    group_notices: &[],
};

const CHINESE_SIMPLIFIED: Language = Language {
    tag: "zh-Hans",
    deleted: &["此消息已删除", "该消息已删除"],
    you_deleted: &["你删除了此消息", "您删除了此消息"],
    missed_voice: &["未接语音通话"],
    missed_video: &["未接视频通话"],
    media_omitted: &["<省略影音内容>", "<媒体文件已忽略>"],
    image_omitted: &["图片已忽略"],
    video_omitted: &["视频已忽略"],
    audio_omitted: &["音频已忽略"],
    sticker_omitted: &["贴图已忽略"],
    gif_omitted: &["GIF 已忽略"],
    contact_omitted: &["联系人名片已忽略"],
    document_omitted: &["文档已忽略"],
    edited: &["<此消息已编辑>"],
    file_attached: &[" (文件已附加)"],
    attached: &["附件"],
    notices: &["端到端加密", "安全码"],
    group_notices: &[],
};

const CHINESE_TRADITIONAL: Language = Language {
    tag: "zh-Hant",
    deleted: &["此訊息已刪除"],
    you_deleted: &["你已刪除此訊息", "你刪除了此訊息"],
    missed_voice: &["未接語音通話"],
    missed_video: &["未接視像通話", "未接視訊通話"],
    media_omitted: &["<略去媒體檔案>", "<省略多媒體檔案>"],
    image_omitted: &["圖片已略去"],
    video_omitted: &["影片已略去"],
    audio_omitted: &["音訊已略去"],
    sticker_omitted: &["貼圖已略去"],
    gif_omitted: &["GIF 已略去"],
    contact_omitted: &["聯絡人卡片已略去"],
    document_omitted: &["文件已略去"],
    edited: &["<此訊息已編輯>"],
    file_attached: &[" (已附加檔案)"],
    attached: &["附件"],
    notices: &["端對端加密", "安全碼"],
    group_notices: &[],
};

const KOREAN: Language = Language {
    tag: "ko",
    deleted: &["삭제된 메시지입니다"],
    you_deleted: &["메시지를 삭제했습니다"],
    missed_voice: &["부재중 음성 통화"],
    missed_video: &["부재중 영상 통화"],
    media_omitted: &["<미디어 파일 생략>", "<미디어 없음>"],
    image_omitted: &["사진 생략"],
    video_omitted: &["동영상 생략"],
    audio_omitted: &["오디오 생략"],
    sticker_omitted: &["스티커 생략"],
    gif_omitted: &["GIF 생략"],
    contact_omitted: &["연락처 카드 생략"],
    document_omitted: &["문서 생략"],
    edited: &["<수정된 메시지입니다>"],
    file_attached: &[" (파일 첨부)"],
    attached: &["첨부"],
    notices: &["종단간 암호화", "보안 코드"],
    group_notices: &[],
};
