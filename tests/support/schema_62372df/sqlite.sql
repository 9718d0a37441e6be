-- The DDL metadata.create_all emitted at commit 62372df (flameback_app/db.py, SQLAlchemy 2.1.9, sqlite dialect),
-- frozen: the migration tests build a pre-migration database from it. Statements end with ';' + blank line.

CREATE TABLE model_registry (
	version VARCHAR(64) NOT NULL, 
	created DATETIME NOT NULL, 
	path TEXT NOT NULL, 
	metrics_json TEXT, 
	loaded_at DATETIME, 
	PRIMARY KEY (version)
);

CREATE TABLE pipeline_counters (
	name VARCHAR(64) NOT NULL, 
	value FLOAT NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (name)
);

CREATE TABLE predictions (
	id INTEGER NOT NULL, 
	symbol VARCHAR(64) NOT NULL, 
	timestamp DATETIME NOT NULL, 
	current_price FLOAT NOT NULL, 
	processing_time DATETIME NOT NULL, 
	sma_5 FLOAT, 
	sma_10 FLOAT, 
	sma_20 FLOAT, 
	ema_12 FLOAT, 
	ema_26 FLOAT, 
	rsi_14 FLOAT, 
	macd_line FLOAT, 
	macd_signal FLOAT, 
	macd_histogram FLOAT, 
	bb_upper FLOAT, 
	bb_middle FLOAT, 
	bb_lower FLOAT, 
	volatility_20 FLOAT, 
	momentum_10 FLOAT, 
	price_change FLOAT, 
	price_change_pct FLOAT, 
	lag_1 FLOAT, 
	lag_2 FLOAT, 
	lag_5 FLOAT, 
	"XGBoost" VARCHAR(16), 
	"RandomForest" VARCHAR(16), 
	"AdaBoost" VARCHAR(16), 
	"LogisticReg" VARCHAR(16), 
	"RSI_Rule" VARCHAR(16), 
	"MACD_Rule" VARCHAR(16), 
	"Momentum_Rule" VARCHAR(16), 
	"PriceChange_Rule" VARCHAR(16), 
	"BB_Rule" VARCHAR(16), 
	"XGBoost_p_up" FLOAT, 
	"RandomForest_p_up" FLOAT, 
	"AdaBoost_p_up" FLOAT, 
	"LogisticReg_p_up" FLOAT, 
	model_version VARCHAR(64), 
	ingest_time DATETIME, 
	latency_ms FLOAT, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_predictions_symbol_timestamp UNIQUE (symbol, timestamp)
);

CREATE INDEX ix_predictions_id_symbol ON predictions (symbol, id);

CREATE INDEX ix_predictions_symbol_timestamp ON predictions (symbol, timestamp);

CREATE TABLE scoreboard (
	symbol VARCHAR(64) NOT NULL, 
	signal VARCHAR(32) NOT NULL, 
	n INTEGER NOT NULL, 
	hits INTEGER NOT NULL, 
	hit_rate FLOAT, 
	hit_rate_20 FLOAT, 
	hit_rate_60 FLOAT, 
	hit_rate_250 FLOAT, 
	baseline_up_rate FLOAT, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (symbol, signal)
);
