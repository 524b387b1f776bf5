--
-- PostgreSQL database dump
--

\restrict pSbBvDoq720iWEEOeEPnjMkxPCigoB6kn1c5Km0nUQUwn57Ndn84Dje0ZbPpkzi

-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: alembic_version; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.alembic_version (
    version_num character varying(32) NOT NULL
);


--
-- Name: api_token; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.api_token (
    id integer NOT NULL,
    name character varying NOT NULL,
    token_hash character varying NOT NULL,
    role character varying NOT NULL,
    utility character varying,
    created_at timestamp with time zone NOT NULL,
    last_used_at timestamp with time zone,
    revoked boolean NOT NULL
);


--
-- Name: api_token_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.api_token_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: api_token_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.api_token_id_seq OWNED BY public.api_token.id;


--
-- Name: attachment; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.attachment (
    id integer NOT NULL,
    ticket_id integer,
    message_id integer,
    filename character varying NOT NULL,
    content_type character varying NOT NULL,
    size integer NOT NULL,
    sha256 character varying NOT NULL,
    kind character varying NOT NULL,
    phase character varying NOT NULL,
    lat double precision,
    lon double precision,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: attachment_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.attachment_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: attachment_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.attachment_id_seq OWNED BY public.attachment.id;


--
-- Name: call_log; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.call_log (
    id integer NOT NULL,
    call_id character varying NOT NULL,
    caller character varying NOT NULL,
    called character varying NOT NULL,
    started_at timestamp with time zone NOT NULL,
    duration_s double precision NOT NULL,
    outcome character varying NOT NULL,
    after_hours boolean NOT NULL,
    detail character varying NOT NULL,
    ticket_id integer,
    needs_callback boolean NOT NULL,
    callback_done_at timestamp with time zone,
    callback_note character varying
);


--
-- Name: call_log_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.call_log_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: call_log_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.call_log_id_seq OWNED BY public.call_log.id;


--
-- Name: citizen; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.citizen (
    id integer NOT NULL,
    name character varying,
    script character varying NOT NULL,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: citizen_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.citizen_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: citizen_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.citizen_id_seq OWNED BY public.citizen.id;


--
-- Name: citizen_identity; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.citizen_identity (
    id integer NOT NULL,
    citizen_id integer NOT NULL,
    kind character varying NOT NULL,
    value character varying NOT NULL,
    opted_out boolean NOT NULL,
    undeliverable boolean NOT NULL,
    undeliverable_reason character varying,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: citizen_identity_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.citizen_identity_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: citizen_identity_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.citizen_identity_id_seq OWNED BY public.citizen_identity.id;


--
-- Name: inbound_spool; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.inbound_spool (
    id integer NOT NULL,
    channel character varying NOT NULL,
    envelope json NOT NULL,
    raw bytea,
    size integer NOT NULL,
    raw_sha256 character varying NOT NULL,
    received_at timestamp with time zone NOT NULL,
    state character varying NOT NULL,
    attempts integer NOT NULL,
    run_after timestamp with time zone NOT NULL,
    locked_by character varying,
    locked_at timestamp with time zone,
    last_error character varying,
    message_id integer,
    finished_at timestamp with time zone
);


--
-- Name: inbound_spool_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.inbound_spool_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: inbound_spool_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.inbound_spool_id_seq OWNED BY public.inbound_spool.id;


--
-- Name: job; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.job (
    id integer NOT NULL,
    kind character varying NOT NULL,
    payload json NOT NULL,
    state character varying NOT NULL,
    attempts integer NOT NULL,
    max_attempts integer NOT NULL,
    run_after timestamp with time zone NOT NULL,
    locked_by character varying,
    locked_at timestamp with time zone,
    last_error character varying,
    created_at timestamp with time zone NOT NULL,
    finished_at timestamp with time zone
);


--
-- Name: job_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.job_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: job_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.job_id_seq OWNED BY public.job.id;


--
-- Name: lease; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.lease (
    name character varying NOT NULL,
    owner character varying NOT NULL,
    expires_at timestamp with time zone NOT NULL
);


--
-- Name: message; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.message (
    id integer NOT NULL,
    ticket_id integer,
    direction character varying NOT NULL,
    channel character varying NOT NULL,
    external_id character varying NOT NULL,
    citizen_id integer,
    subject character varying,
    body character varying NOT NULL,
    quoted character varying,
    raw_sha256 character varying,
    raw_inline bytea,
    received_at timestamp with time zone NOT NULL,
    quarantine_reason character varying,
    auto character varying,
    meta json NOT NULL
);


--
-- Name: message_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.message_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: message_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.message_id_seq OWNED BY public.message.id;


--
-- Name: outbox; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.outbox (
    id integer NOT NULL,
    ticket_id integer,
    kind character varying NOT NULL,
    channel character varying NOT NULL,
    recipient character varying NOT NULL,
    subject character varying,
    body character varying NOT NULL,
    automatic boolean NOT NULL,
    message_id_header character varying,
    in_reply_to character varying,
    "references" character varying,
    state character varying NOT NULL,
    delivery character varying,
    attempts integer NOT NULL,
    next_attempt_at timestamp with time zone NOT NULL,
    last_error character varying,
    provider_ref character varying,
    created_at timestamp with time zone NOT NULL,
    sent_at timestamp with time zone,
    meta json NOT NULL
);


--
-- Name: outbox_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.outbox_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: outbox_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.outbox_id_seq OWNED BY public.outbox.id;


--
-- Name: pii_access; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.pii_access (
    id integer NOT NULL,
    at timestamp with time zone NOT NULL,
    actor character varying NOT NULL,
    ticket_id integer,
    citizen_id integer,
    what character varying NOT NULL
);


--
-- Name: pii_access_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.pii_access_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: pii_access_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.pii_access_id_seq OWNED BY public.pii_access.id;


--
-- Name: staff_user; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.staff_user (
    id integer NOT NULL,
    username character varying NOT NULL,
    password_hash character varying NOT NULL,
    role character varying NOT NULL,
    utility character varying,
    failed_logins integer NOT NULL,
    locked_until timestamp with time zone,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: staff_user_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.staff_user_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: staff_user_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.staff_user_id_seq OWNED BY public.staff_user.id;


--
-- Name: ticket; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.ticket (
    id integer NOT NULL,
    reference character varying NOT NULL,
    public_token character varying NOT NULL,
    channel character varying NOT NULL,
    status character varying NOT NULL,
    subject character varying,
    description character varying NOT NULL,
    work_order_subject character varying,
    work_order_text character varying NOT NULL,
    category character varying,
    suggested_category character varying,
    utility character varying,
    location_text character varying,
    lat double precision,
    lon double precision,
    citizen_id integer,
    script character varying NOT NULL,
    after_hours boolean NOT NULL,
    sla_hours integer,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    validated_at timestamp with time zone,
    assigned_at timestamp with time zone,
    resolved_at timestamp with time zone,
    closed_at timestamp with time zone,
    due_at timestamp with time zone,
    paused_at timestamp with time zone,
    overdue boolean NOT NULL,
    escalation_level integer NOT NULL,
    waiting_reason character varying,
    forwarded_to character varying,
    duplicate_of_id integer,
    resolution_note character varying,
    discard_reason character varying,
    needs_callback boolean NOT NULL
);


--
-- Name: ticket_counter; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.ticket_counter (
    year integer NOT NULL,
    last integer NOT NULL
);


--
-- Name: ticket_counter_year_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.ticket_counter_year_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: ticket_counter_year_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.ticket_counter_year_seq OWNED BY public.ticket_counter.year;


--
-- Name: ticket_event; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.ticket_event (
    id integer NOT NULL,
    ticket_id integer NOT NULL,
    at timestamp with time zone NOT NULL,
    actor character varying NOT NULL,
    kind character varying NOT NULL,
    from_status character varying,
    to_status character varying,
    note character varying,
    public boolean NOT NULL
);


--
-- Name: ticket_event_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.ticket_event_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: ticket_event_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.ticket_event_id_seq OWNED BY public.ticket_event.id;


--
-- Name: ticket_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.ticket_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: ticket_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.ticket_id_seq OWNED BY public.ticket.id;


--
-- Name: transcript; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.transcript (
    id integer NOT NULL,
    ticket_id integer NOT NULL,
    attachment_id integer NOT NULL,
    engine character varying NOT NULL,
    text character varying NOT NULL,
    has_speech boolean NOT NULL,
    low_confidence boolean NOT NULL,
    data json NOT NULL,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: transcript_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.transcript_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: transcript_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.transcript_id_seq OWNED BY public.transcript.id;


--
-- Name: api_token id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_token ALTER COLUMN id SET DEFAULT nextval('public.api_token_id_seq'::regclass);


--
-- Name: attachment id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.attachment ALTER COLUMN id SET DEFAULT nextval('public.attachment_id_seq'::regclass);


--
-- Name: call_log id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.call_log ALTER COLUMN id SET DEFAULT nextval('public.call_log_id_seq'::regclass);


--
-- Name: citizen id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.citizen ALTER COLUMN id SET DEFAULT nextval('public.citizen_id_seq'::regclass);


--
-- Name: citizen_identity id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.citizen_identity ALTER COLUMN id SET DEFAULT nextval('public.citizen_identity_id_seq'::regclass);


--
-- Name: inbound_spool id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.inbound_spool ALTER COLUMN id SET DEFAULT nextval('public.inbound_spool_id_seq'::regclass);


--
-- Name: job id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.job ALTER COLUMN id SET DEFAULT nextval('public.job_id_seq'::regclass);


--
-- Name: message id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message ALTER COLUMN id SET DEFAULT nextval('public.message_id_seq'::regclass);


--
-- Name: outbox id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.outbox ALTER COLUMN id SET DEFAULT nextval('public.outbox_id_seq'::regclass);


--
-- Name: pii_access id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.pii_access ALTER COLUMN id SET DEFAULT nextval('public.pii_access_id_seq'::regclass);


--
-- Name: staff_user id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.staff_user ALTER COLUMN id SET DEFAULT nextval('public.staff_user_id_seq'::regclass);


--
-- Name: ticket id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ticket ALTER COLUMN id SET DEFAULT nextval('public.ticket_id_seq'::regclass);


--
-- Name: ticket_counter year; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ticket_counter ALTER COLUMN year SET DEFAULT nextval('public.ticket_counter_year_seq'::regclass);


--
-- Name: ticket_event id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ticket_event ALTER COLUMN id SET DEFAULT nextval('public.ticket_event_id_seq'::regclass);


--
-- Name: transcript id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.transcript ALTER COLUMN id SET DEFAULT nextval('public.transcript_id_seq'::regclass);


--
-- Data for Name: alembic_version; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.alembic_version (version_num) FROM stdin;
0002
\.


--
-- Data for Name: api_token; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.api_token (id, name, token_hash, role, utility, created_at, last_used_at, revoked) FROM stdin;
\.


--
-- Data for Name: attachment; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.attachment (id, ticket_id, message_id, filename, content_type, size, sha256, kind, phase, lat, lon, created_at) FROM stdin;
1	1	1	rupa.jpg	image/jpeg	645	f36bfc32231b3c6b046f303e9c1f88419bc441cf796768803323af87cc6cda99	photo	before	\N	\N	2026-12-04 20:41:47.172721+00
\.


--
-- Data for Name: call_log; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.call_log (id, call_id, caller, called, started_at, duration_s, outcome, after_hours, detail, ticket_id, needs_callback, callback_done_at, callback_note) FROM stdin;
\.


--
-- Data for Name: citizen; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.citizen (id, name, script, created_at) FROM stdin;
1	Jelena Petrović	latin	2026-12-04 20:41:46.998604+00
2	\N	latin	2026-12-04 20:42:07.230145+00
\.


--
-- Data for Name: citizen_identity; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.citizen_identity (id, citizen_id, kind, value, opted_out, undeliverable, undeliverable_reason, created_at) FROM stdin;
1	1	email	jelena.petrovic@example.net	f	f	\N	2026-12-04 20:41:47.01165+00
2	2	phone	+381641234567	f	f	\N	2026-12-04 20:42:07.234095+00
\.


--
-- Data for Name: inbound_spool; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.inbound_spool (id, channel, envelope, raw, size, raw_sha256, received_at, state, attempts, run_after, locked_by, locked_at, last_error, message_id, finished_at) FROM stdin;
\.


--
-- Data for Name: job; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.job (id, kind, payload, state, attempts, max_attempts, run_after, locked_by, locked_at, last_error, created_at, finished_at) FROM stdin;
\.


--
-- Data for Name: lease; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.lease (name, owner, expires_at) FROM stdin;
\.


--
-- Data for Name: message; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.message (id, ticket_id, direction, channel, external_id, citizen_id, subject, body, quoted, raw_sha256, raw_inline, received_at, quarantine_reason, auto, meta) FROM stdin;
1	1	in	email	rupa-1@example.net	1	Rupa na putu u Ulici kralja Petra 12	Poštovani, u Ulici kralja Petra 12 je velika rupa na kolovozu. Šaljem fotografiju.	\N	b3207559a4830463512a9f484f41c0dc7d17ee10b9350d65b39bbbfe327eca04	\\x46726f6d3a204a656c656e6120506574726f7669c487203c6a656c656e612e706574726f766963406578616d706c652e6e65743e0a546f3a207072696a617665406578616d706c652e72730a5375626a6563743a2052757061206e612070757475207520556c696369206b72616c6a612050657472612031320a446174653a205475652c2030312044656320323032362030393a31353a3030202b303130300a4d6573736167652d49443a203c727570612d31406578616d706c652e6e65743e0a4d494d452d56657273696f6e3a20312e300a436f6e74656e742d547970653a206d756c7469706172742f6d697865643b20626f756e646172793d226231220a0a2d2d62310a436f6e74656e742d547970653a20746578742f706c61696e3b20636861727365743d7574662d380a436f6e74656e742d5472616e736665722d456e636f64696e673a20386269740a0a506fc5a1746f76616e692c207520556c696369206b72616c6a61205065747261203132206a652076656c696b612072757061206e61206b6f6c6f766f7a752e20c5a0616c6a656d20666f746f67726166696a752e0a0a2d2d62310a436f6e74656e742d547970653a20696d6167652f6a7065673b206e616d653d22727570612e6a7067220a436f6e74656e742d446973706f736974696f6e3a206174746163686d656e743b2066696c656e616d653d22727570612e6a7067220a436f6e74656e742d5472616e736665722d456e636f64696e673a206261736536340a0a2f396a2f34414151536b5a4a5267414241514141415141424141442f3277424441416f484277674842676f494341674c43676f4c446867514467304e44683056466845594978386c4a4349660a4969456d4b7a63764a696b304b5345694d4545784e446b37506a342b4a53354553554d3853446339506a762f3277424441516f4c4377344e44687751454277374b43496f4f7a73374f7a73370a4f7a73374f7a73374f7a73374f7a73374f7a73374f7a73374f7a73374f7a73374f7a73374f7a73374f7a73374f7a73374f7a73374f7a73374f7a762f774141524341415941434144415349410a41684542417845422f38514148774141415155424151454241514541414141414141414141414543417751464267634943516f4c2f38514174524141416745444177494541775546424151410a414146394151494441415152425249684d5545474531466842794a7846444b426b61454949304b78775256533066416b4d324a7967676b4b4668635947526f6c4a69636f4b536f304e5459330a4f446b3651305246526b644953557054564656575631685a576d4e6b5a575a6e61476c7163335231646e643465587144684957476834694a69704b546c4a57576c35695a6d714b6a704b576d0a7036697071724b7a744c57327437693575734c44784d584778386a4a79744c54314e585731396a5a32754869342b546c3575666f3665727838765030396662332b506e362f385141487745410a417745424151454241514542415141414141414141414543417751464267634943516f4c2f385141745245414167454342415144424163464241514141514a334141454341784545425345780a42684a425551646863524d694d6f454946454b526f62484243534d7a55764156596e4c524368596b4e4f456c3852635947526f6d4a7967704b6a55324e7a67354f6b4e4552555a4853456c4b0a55315256566c64595756706a5a47566d5a326870616e4e3064585a3365486c36676f4f456859614869496d4b6b704f556c5a61586d4a6d616f714f6b7061616e714b6d7173724f30746261330a754c6d367773504578636248794d6e4b3074505531646258324e6e613475506b3565626e364f6e7138765030396662332b506e362f396f4144414d4241414952417845415077446e364b4b4b0a386b2f51416f6f6f6f414b4b4b4b414369696967442f2f5a0a2d2d62312d2d0a	2026-12-04 20:41:41.021842+00	\N	\N	{"envelope_from": "", "rcpt_to": "prijave@example.rs", "peer": "", "auto": "", "script": "latin", "message_id": "rupa-1@example.net"}
2	1	in	email	rupa-2@example.net	1	Re: Rupa na putu u Ulici kralja Petra 12	Dopuna: rupa je odmah pored pešačkog prelaza.	\N	ebd3642f3c989a685f5ec02216770682ad280f2aae6021118a189bb2acf965c7	\\x46726f6d3a204a656c656e6120506574726f7669c487203c6a656c656e612e706574726f766963406578616d706c652e6e65743e0a546f3a207072696a617665406578616d706c652e72730a5375626a6563743a2052653a2052757061206e612070757475207520556c696369206b72616c6a612050657472612031320a446174653a205475652c2030312044656320323032362031303a30323a3030202b303130300a4d6573736167652d49443a203c727570612d32406578616d706c652e6e65743e0a496e2d5265706c792d546f3a203c727570612d31406578616d706c652e6e65743e0a5265666572656e6365733a203c727570612d31406578616d706c652e6e65743e0a436f6e74656e742d547970653a20746578742f706c61696e3b20636861727365743d7574662d380a436f6e74656e742d5472616e736665722d456e636f64696e673a20386269740a0a446f70756e613a2072757061206a65206f646d616820706f726564207065c5a161c48d6b6f67207072656c617a612e0a	2026-12-04 20:41:51.388182+00	\N	\N	{"envelope_from": "", "rcpt_to": "prijave@example.rs", "peer": "", "auto": "", "script": "latin", "message_id": "rupa-2@example.net"}
3	2	in	sms	cli:1c48cf257ccf3c69c1d104f8cd7ca31313afbe0d8eec7369e795323dc977d7a1	2	\N	Ne radi javna rasveta u Njegoševoj 5 od juče.	\N	\N	\N	2026-12-04 20:42:01.707443+00	\N	\N	{}
\.


--
-- Data for Name: outbox; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.outbox (id, ticket_id, kind, channel, recipient, subject, body, automatic, message_id_header, in_reply_to, "references", state, delivery, attempts, next_attempt_at, last_error, provider_ref, created_at, sent_at, meta) FROM stdin;
1	1	ack	email	jelena.petrovic@example.net	[S48-2026-000001] Prijava primljena	Poštovani,\n\nvaša prijava je primljena i registrovana. Status ćete dobiti u roku od 48 sati.\n\nBroj prijave: S48-2026-000001\nStatus: primljena\nPregled statusa: http://127.0.0.1:8048/s/S48-2026-000001?t=HF0E5cXY5yck\n\nNa ovu poruku možete odgovoriti; odgovor se dodaje vašoj prijavi S48-2026-000001.\n\nSistem 48 — gradski kontakt centar\n	t	<S48-2026-000001.5c02cb66.7b913fb5bb3b133a@sistem48.localhost>	<rupa-1@example.net>	<rupa-1@example.net>	queued	\N	0	2026-12-04 20:41:47.26198+00	\N	\N	2026-12-04 20:41:47.26198+00	\N	{"reply_to": "sistem48+s48-2026-000001.6f612f705ebd@sistem48.localhost"}
2	2	ack	sms	+381641234567	\N	Sistem48: prijava S48-2026-000002 je primljena, odgovor za 48 sati.	t	\N	\N	\N	queued	\N	0	2026-12-04 20:42:07.32708+00	\N	\N	2026-12-04 20:42:07.32708+00	\N	{}
\.


--
-- Data for Name: pii_access; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.pii_access (id, at, actor, ticket_id, citizen_id, what) FROM stdin;
\.


--
-- Data for Name: staff_user; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.staff_user (id, username, password_hash, role, utility, failed_logins, locked_until, created_at) FROM stdin;
\.


--
-- Data for Name: ticket; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.ticket (id, reference, public_token, channel, status, subject, description, work_order_subject, work_order_text, category, suggested_category, utility, location_text, lat, lon, citizen_id, script, after_hours, sla_hours, created_at, updated_at, validated_at, assigned_at, resolved_at, closed_at, due_at, paused_at, overdue, escalation_level, waiting_reason, forwarded_to, duplicate_of_id, resolution_note, discard_reason, needs_callback) FROM stdin;
1	S48-2026-000001	HF0E5cXY5yck	email	received	Rupa na putu u Ulici kralja Petra 12	Poštovani, u Ulici kralja Petra 12 je velika rupa na kolovozu. Šaljem fotografiju.	Rupa na putu u Ulici kralja Petra 12	Poštovani, u Ulici kralja Petra 12 je velika rupa na kolovozu. Šaljem fotografiju.	\N	udarna_rupa	\N	\N	\N	\N	1	latin	f	\N	2026-12-04 20:41:47.024057+00	2026-12-04 20:41:57.327312+00	\N	\N	\N	\N	\N	\N	f	0	\N	\N	\N	\N	\N	f
2	S48-2026-000002	5MmtY63hAuGQ	sms	received	\N	Ne radi javna rasveta u Njegoševoj 5 od juče.	\N	Ne radi javna rasveta u Njegoševoj 5 od juče.	\N	javna_rasveta	\N	\N	\N	\N	2	latin	f	\N	2026-12-04 20:42:07.234574+00	2026-12-04 20:42:07.234574+00	\N	\N	\N	\N	\N	\N	f	0	\N	\N	\N	\N	\N	f
\.


--
-- Data for Name: ticket_counter; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.ticket_counter (year, last) FROM stdin;
2026	2
\.


--
-- Data for Name: ticket_event; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.ticket_event (id, ticket_id, at, actor, kind, from_status, to_status, note, public) FROM stdin;
1	1	2026-12-04 20:41:47.106392+00	system:gateway	status	\N	received	registered	f
2	1	2026-12-04 20:41:57.327066+00	citizen:reporter	message	\N	\N	citizen wrote again	f
3	2	2026-12-04 20:42:07.294362+00	system:gateway	status	\N	received	registered	f
\.


--
-- Data for Name: transcript; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.transcript (id, ticket_id, attachment_id, engine, text, has_speech, low_confidence, data, created_at) FROM stdin;
\.


--
-- Name: api_token_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.api_token_id_seq', 1, false);


--
-- Name: attachment_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.attachment_id_seq', 1, true);


--
-- Name: call_log_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.call_log_id_seq', 1, false);


--
-- Name: citizen_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.citizen_id_seq', 2, true);


--
-- Name: citizen_identity_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.citizen_identity_id_seq', 2, true);


--
-- Name: inbound_spool_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.inbound_spool_id_seq', 1, false);


--
-- Name: job_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.job_id_seq', 1, false);


--
-- Name: message_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.message_id_seq', 3, true);


--
-- Name: outbox_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.outbox_id_seq', 2, true);


--
-- Name: pii_access_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.pii_access_id_seq', 1, false);


--
-- Name: staff_user_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.staff_user_id_seq', 1, false);


--
-- Name: ticket_counter_year_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.ticket_counter_year_seq', 1, false);


--
-- Name: ticket_event_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.ticket_event_id_seq', 3, true);


--
-- Name: ticket_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.ticket_id_seq', 2, true);


--
-- Name: transcript_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.transcript_id_seq', 1, false);


--
-- Name: alembic_version alembic_version_pkc; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.alembic_version
    ADD CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num);


--
-- Name: api_token api_token_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_token
    ADD CONSTRAINT api_token_pkey PRIMARY KEY (id);


--
-- Name: api_token api_token_token_hash_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_token
    ADD CONSTRAINT api_token_token_hash_key UNIQUE (token_hash);


--
-- Name: attachment attachment_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.attachment
    ADD CONSTRAINT attachment_pkey PRIMARY KEY (id);


--
-- Name: call_log call_log_call_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.call_log
    ADD CONSTRAINT call_log_call_id_key UNIQUE (call_id);


--
-- Name: call_log call_log_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.call_log
    ADD CONSTRAINT call_log_pkey PRIMARY KEY (id);


--
-- Name: citizen_identity citizen_identity_kind_value_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.citizen_identity
    ADD CONSTRAINT citizen_identity_kind_value_key UNIQUE (kind, value);


--
-- Name: citizen_identity citizen_identity_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.citizen_identity
    ADD CONSTRAINT citizen_identity_pkey PRIMARY KEY (id);


--
-- Name: citizen citizen_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.citizen
    ADD CONSTRAINT citizen_pkey PRIMARY KEY (id);


--
-- Name: inbound_spool inbound_spool_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.inbound_spool
    ADD CONSTRAINT inbound_spool_pkey PRIMARY KEY (id);


--
-- Name: job job_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.job
    ADD CONSTRAINT job_pkey PRIMARY KEY (id);


--
-- Name: lease lease_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lease
    ADD CONSTRAINT lease_pkey PRIMARY KEY (name);


--
-- Name: message message_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message
    ADD CONSTRAINT message_pkey PRIMARY KEY (id);


--
-- Name: outbox outbox_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.outbox
    ADD CONSTRAINT outbox_pkey PRIMARY KEY (id);


--
-- Name: pii_access pii_access_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.pii_access
    ADD CONSTRAINT pii_access_pkey PRIMARY KEY (id);


--
-- Name: staff_user staff_user_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.staff_user
    ADD CONSTRAINT staff_user_pkey PRIMARY KEY (id);


--
-- Name: staff_user staff_user_username_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.staff_user
    ADD CONSTRAINT staff_user_username_key UNIQUE (username);


--
-- Name: ticket_counter ticket_counter_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ticket_counter
    ADD CONSTRAINT ticket_counter_pkey PRIMARY KEY (year);


--
-- Name: ticket_event ticket_event_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ticket_event
    ADD CONSTRAINT ticket_event_pkey PRIMARY KEY (id);


--
-- Name: ticket ticket_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ticket
    ADD CONSTRAINT ticket_pkey PRIMARY KEY (id);


--
-- Name: transcript transcript_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.transcript
    ADD CONSTRAINT transcript_pkey PRIMARY KEY (id);


--
-- Name: ix_attachment_message_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_attachment_message_id ON public.attachment USING btree (message_id);


--
-- Name: ix_attachment_ticket_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_attachment_ticket_id ON public.attachment USING btree (ticket_id);


--
-- Name: ix_call_log_needs_callback; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_call_log_needs_callback ON public.call_log USING btree (needs_callback);


--
-- Name: ix_call_log_outcome; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_call_log_outcome ON public.call_log USING btree (outcome);


--
-- Name: ix_call_log_started_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_call_log_started_at ON public.call_log USING btree (started_at);


--
-- Name: ix_citizen_identity_citizen_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_citizen_identity_citizen_id ON public.citizen_identity USING btree (citizen_id);


--
-- Name: ix_inbound_spool_runnable; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_inbound_spool_runnable ON public.inbound_spool USING btree (state, run_after);


--
-- Name: ix_job_kind; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_job_kind ON public.job USING btree (kind);


--
-- Name: ix_job_run_after; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_job_run_after ON public.job USING btree (run_after);


--
-- Name: ix_job_state; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_job_state ON public.job USING btree (state);


--
-- Name: ix_message_received_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_message_received_at ON public.message USING btree (received_at);


--
-- Name: ix_message_ticket_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_message_ticket_id ON public.message USING btree (ticket_id);


--
-- Name: ix_outbox_next_attempt_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_outbox_next_attempt_at ON public.outbox USING btree (next_attempt_at);


--
-- Name: ix_outbox_provider_ref; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_outbox_provider_ref ON public.outbox USING btree (provider_ref);


--
-- Name: ix_outbox_state; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_outbox_state ON public.outbox USING btree (state);


--
-- Name: ix_outbox_ticket_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_outbox_ticket_id ON public.outbox USING btree (ticket_id);


--
-- Name: ix_ticket_category; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_ticket_category ON public.ticket USING btree (category);


--
-- Name: ix_ticket_category_status_created; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_ticket_category_status_created ON public.ticket USING btree (category, status, created_at);


--
-- Name: ix_ticket_channel; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_ticket_channel ON public.ticket USING btree (channel);


--
-- Name: ix_ticket_citizen_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_ticket_citizen_id ON public.ticket USING btree (citizen_id);


--
-- Name: ix_ticket_created_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_ticket_created_at ON public.ticket USING btree (created_at);


--
-- Name: ix_ticket_due_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_ticket_due_at ON public.ticket USING btree (due_at);


--
-- Name: ix_ticket_event_ticket_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_ticket_event_ticket_id ON public.ticket_event USING btree (ticket_id);


--
-- Name: ix_ticket_overdue; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_ticket_overdue ON public.ticket USING btree (overdue);


--
-- Name: ix_ticket_public_token; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_ticket_public_token ON public.ticket USING btree (public_token);


--
-- Name: ix_ticket_reference; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX ix_ticket_reference ON public.ticket USING btree (reference);


--
-- Name: ix_ticket_status; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_ticket_status ON public.ticket USING btree (status);


--
-- Name: ix_ticket_status_created; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_ticket_status_created ON public.ticket USING btree (status, created_at);


--
-- Name: ix_ticket_utility; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_ticket_utility ON public.ticket USING btree (utility);


--
-- Name: ix_ticket_utility_created; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_ticket_utility_created ON public.ticket USING btree (utility, created_at);


--
-- Name: ix_transcript_attachment_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_transcript_attachment_id ON public.transcript USING btree (attachment_id);


--
-- Name: ix_transcript_ticket_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_transcript_ticket_id ON public.transcript USING btree (ticket_id);


--
-- Name: uq_message_inbound; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX uq_message_inbound ON public.message USING btree (channel, external_id);


--
-- Name: attachment attachment_message_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.attachment
    ADD CONSTRAINT attachment_message_id_fkey FOREIGN KEY (message_id) REFERENCES public.message(id);


--
-- Name: attachment attachment_ticket_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.attachment
    ADD CONSTRAINT attachment_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES public.ticket(id);


--
-- Name: call_log call_log_ticket_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.call_log
    ADD CONSTRAINT call_log_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES public.ticket(id);


--
-- Name: citizen_identity citizen_identity_citizen_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.citizen_identity
    ADD CONSTRAINT citizen_identity_citizen_id_fkey FOREIGN KEY (citizen_id) REFERENCES public.citizen(id);


--
-- Name: inbound_spool inbound_spool_message_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.inbound_spool
    ADD CONSTRAINT inbound_spool_message_id_fkey FOREIGN KEY (message_id) REFERENCES public.message(id);


--
-- Name: message message_citizen_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message
    ADD CONSTRAINT message_citizen_id_fkey FOREIGN KEY (citizen_id) REFERENCES public.citizen(id);


--
-- Name: message message_ticket_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message
    ADD CONSTRAINT message_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES public.ticket(id);


--
-- Name: outbox outbox_ticket_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.outbox
    ADD CONSTRAINT outbox_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES public.ticket(id);


--
-- Name: ticket ticket_citizen_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ticket
    ADD CONSTRAINT ticket_citizen_id_fkey FOREIGN KEY (citizen_id) REFERENCES public.citizen(id);


--
-- Name: ticket ticket_duplicate_of_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ticket
    ADD CONSTRAINT ticket_duplicate_of_id_fkey FOREIGN KEY (duplicate_of_id) REFERENCES public.ticket(id);


--
-- Name: ticket_event ticket_event_ticket_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ticket_event
    ADD CONSTRAINT ticket_event_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES public.ticket(id);


--
-- Name: transcript transcript_attachment_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.transcript
    ADD CONSTRAINT transcript_attachment_id_fkey FOREIGN KEY (attachment_id) REFERENCES public.attachment(id);


--
-- Name: transcript transcript_ticket_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.transcript
    ADD CONSTRAINT transcript_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES public.ticket(id);


--
-- PostgreSQL database dump complete
--

\unrestrict pSbBvDoq720iWEEOeEPnjMkxPCigoB6kn1c5Km0nUQUwn57Ndn84Dje0ZbPpkzi

