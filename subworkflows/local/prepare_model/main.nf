/*
 * PREPARE_MODEL: the model, once per run, and which weights each model step runs.
 *
 * A local or S3 file or folder is staged into each model task; a hub id (owner/name) is downloaded once
 * (FETCH_MODEL), never per task; 'oracle' and 'random' are names, no file. With the plan's export_onnx
 * (backend 'onnx' with torch weights) EXPORT_ONNX exports them once, parity-checked, and PREDICT runs the
 * exported file. ISM and MOTIFS run the weights the plan's ism_model names ('model' or 'ism_model').
 */
include { FETCH_MODEL } from '../../../modules/local/fetch_model/main'
include { EXPORT_ONNX } from '../../../modules/local/export_onnx/main'

workflow PREPARE_MODEL {
    take:
    model_name    // String: params.model (a named model, a file or folder, or a hub id)
    ism_weights   // channel (value): the ism_model file, or [] when not given
    hparams       // channel (value): a hparams JSON file, or []
    track_tsv     // channel (value): the track names file, or []
    plan          // channel (value): the plan (seqgx plan) as a map

    main:
    versions = Channel.empty()
    if (model_name in ['oracle', 'random']) {
        model_staged = Channel.value([])
    } else if (file(model_name).exists()) {
        model_staged = Channel.value(file(model_name))
    } else if (model_name ==~ /[\w.-]+\/[\w.-]+/ && !(model_name ==~ /.*\.(onnx|pt|pth|safetensors|bin)$/)) {
        FETCH_MODEL(model_name)
        model_staged = FETCH_MODEL.out.model
        versions = versions.mix(FETCH_MODEL.out.versions)
    } else {
        error("--model '${model_name}': no such file or folder (and not a hub id, owner/name); check the path")
    }
    EXPORT_ONNX(model_staged, hparams, track_tsv, plan.filter { it.export_onnx }.map { it.model_args['export-onnx'] })
    versions = versions.mix(EXPORT_ONNX.out.versions)
    predict_model = EXPORT_ONNX.out.onnx
        .mix(model_staged.map { [it] }.combine(plan).filter { _m, p -> !p.export_onnx }.map { m, _p -> m })
        .first()
    plan.subscribe { p ->
        if (p.ism_onnx) {
            log.warn "ISM of the ONNX model '${model_name}' recomputes the whole model for every SNV; " +
                     "give its torch weights as --ism_model for the fast exact path"
        }
    }
    ism_model = model_staged.map { [it] }.combine(ism_weights.map { [it] }).combine(plan)
        .map { m, i, p -> p.ism_model == 'ism_model' ? i : m }
        .first()

    emit:
    predict_model     // the weights or file PREDICT runs ([] for a named model)
    ism_model         // the weights ISM and MOTIFS run ([] for a named model)
    versions
}
